import Foundation
import Logging
import ServiceLifecycle

/// Drives ``FleetGenerator`` in real time against a ``PublicationSink``.
///
/// `run()` publishes every publication when it is due, in batches, until the configured
/// `duration` or `count` is reached (then late readings still pending are delivered and `run()`
/// returns) or until graceful shutdown (the batch in flight completes, then `run()` returns).
/// Without a limit it runs until shutdown; in a `ServiceGroup`, give bounded runs
/// `successTerminationBehavior: .gracefullyShutdownGroup`.
public final class SimulatorService: Service, Sendable {
    /// Called with a snapshot every `progressInterval` and once at the end.
    public typealias ProgressHandler = @Sendable (SimulatorProgress) -> Void

    private let configuration: SimulatorConfiguration
    private let plan: PacingPlan
    private let sink: any PublicationSink
    private let logger: Logger
    private let onProgress: ProgressHandler?

    /// Creates the service; fails if the target rate cannot be reached (see ``PacingPlan``).
    public init(
        configuration: SimulatorConfiguration,
        sink: any PublicationSink,
        logger: Logger = Logger(label: "fluxgate.simulator"),
        onProgress: ProgressHandler? = nil
    ) throws(ProfileError) {
        self.configuration = configuration
        self.plan = try PacingPlan(fleet: configuration.fleet, targetRate: configuration.targetRate)
        self.sink = sink
        self.logger = logger
        self.onProgress = onProgress
    }

    /// The paced fleet the run uses.
    public var pacedFleet: FleetProfile { plan.fleet }

    /// The ground truth of a bounded run started at `startMilliseconds` (pass the same start as
    /// the configuration's), computed by replaying the generator — the run is deterministic, so
    /// the live run does not need to record it. `nil` when neither `duration` nor `count` is set.
    public func plannedGroundTruth(startMilliseconds: Int64) -> GroundTruth? {
        guard configuration.duration != nil || configuration.count != nil else { return nil }
        var generator = makeGenerator(startMilliseconds: startMilliseconds, recordsGroundTruth: true)
        return generator.generateAll().groundTruth
    }

    private func makeGenerator(startMilliseconds: Int64, recordsGroundTruth: Bool) -> FleetGenerator {
        FleetGenerator(
            fleet: plan.fleet,
            startMilliseconds: startMilliseconds,
            seed: configuration.seed,
            limits: GeneratorLimits(
                durationMilliseconds: configuration.duration?.wholeMilliseconds,
                readings: configuration.count
            ),
            recordsGroundTruth: recordsGroundTruth
        )
    }

    /// Runs until the limit or graceful shutdown; returns the final progress.
    @discardableResult
    public func runReturningProgress() async throws -> SimulatorProgress {
        let start = configuration.startMilliseconds ?? Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
        var generator = makeGenerator(startMilliseconds: start, recordsGroundTruth: false)
        let pacer = BatchPacer(
            tickMilliseconds: max(1, configuration.tick.wholeMilliseconds),
            maxBatch: configuration.maxBatch
        )
        let clock = ContinuousClock()
        let origin = clock.now
        var progress = SimulatorProgress()
        var meter = RateMeter()
        var nextReport = configuration.progressInterval.wholeMilliseconds
        logger.info(
            "simulator starting",
            metadata: [
                "devices": "\(plan.fleet.deviceCount)", "rate": "\(plan.targetRate)", "seed": "\(generator.seed)",
            ]
        )
        func elapsed() -> Int64 { (clock.now - origin).wholeMilliseconds }

        loop: while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let now = elapsed()
            switch pacer.decide(nextOffset: generator.peek()?.offsetMilliseconds, elapsedMilliseconds: now) {
            case .finished:
                break loop
            case .sleep(let wake):
                let deadline = origin + .milliseconds(min(wake, max(nextReport, now + 1)))
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(until: deadline, clock: clock) }
                } catch {
                    break loop
                }
            case .publish(let dueUntil):
                var batch: [Publication] = []
                batch.reserveCapacity(min(pacer.maxBatch, 256))
                progress.lagMilliseconds = pacer.lag(
                    oldestDueOffset: generator.peek()?.offsetMilliseconds,
                    elapsedMilliseconds: now
                )
                while batch.count < pacer.maxBatch, let next = generator.peek(), next.offsetMilliseconds <= dueUntil {
                    batch.append(next)
                    _ = generator.next()
                }
                do {
                    try await sink.publish(batch)
                    progress.published += batch.count
                    progress.readings += batch.reduce(0) { $0 + ($1.isTelemetry ? 1 : 0) }
                } catch is CancellationError {
                    break loop
                } catch {
                    progress.errors += 1
                    logger.warning(
                        "publishing a batch failed",
                        metadata: ["error": "\(error)", "size": "\(batch.count)"]
                    )
                }
            }
            let after = elapsed()
            if after >= nextReport {
                progress.elapsedMilliseconds = after
                progress.perSecond = meter.record(published: progress.published, elapsedMilliseconds: after)
                onProgress?(progress)
                nextReport = after + configuration.progressInterval.wholeMilliseconds
            }
        }
        progress.elapsedMilliseconds = elapsed()
        progress.perSecond = meter.record(
            published: progress.published,
            elapsedMilliseconds: progress.elapsedMilliseconds
        )
        onProgress?(progress)
        logger.info(
            "simulator stopped",
            metadata: [
                "published": "\(progress.published)", "readings": "\(progress.readings)",
                "errors": "\(progress.errors)",
            ]
        )
        return progress
    }

    /// `Service.run()`: see the type's documentation.
    public func run() async throws {
        try await runReturningProgress()
    }
}
