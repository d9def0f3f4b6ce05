import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import Simulator

@Suite struct SimulatorServiceTests {
    final class ProgressLog: Sendable {
        let snapshots = Mutex<[SimulatorProgress]>([])
        func append(_ progress: SimulatorProgress) { snapshots.withLock { $0.append(progress) } }
        var last: SimulatorProgress? { snapshots.withLock { $0.last } }
        var count: Int { snapshots.withLock { $0.count } }
    }

    /// Fails every other batch.
    actor FlakySink: PublicationSink {
        var calls = 0
        var accepted: [Publication] = []
        struct Refused: Error {}
        func publish(_ batch: [Publication]) async throws {
            calls += 1
            if calls % 2 == 0 { throw Refused() }
            accepted += batch
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func countBoundedRunPublishesExactlyTheGeneratorsSequence() async throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        let sink = RecordingSink()
        let log = ProgressLog()
        let configuration = SimulatorConfiguration(
            fleet: fleet,
            targetRate: 2000,
            count: 1500,
            startMilliseconds: TestSupport.start,
            progressInterval: .milliseconds(100)
        )
        let service = try SimulatorService(configuration: configuration, sink: sink, onProgress: log.append)
        let clock = ContinuousClock()
        let started = clock.now
        let final = try await service.runReturningProgress()
        let took = clock.now - started
        let published = await sink.publications
        #expect(published.filter(\.isTelemetry).count == 1500)
        #expect(final.readings == 1500 && final.published == published.count && final.errors == 0)
        // Exactly what the pure generator produces for the paced fleet.
        var generator = FleetGenerator(
            fleet: service.pacedFleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(readings: 1500)
        )
        let replay = generator.generateAll()
        #expect(published == replay.publications)
        #expect(service.plannedGroundTruth(startMilliseconds: TestSupport.start) == replay.groundTruth)
        #expect(replay.groundTruth.records.isEmpty == false)
        #expect(published.first?.textLine == "0\tdevices/probe-1/status\tonline")
        // 1500 readings at 2000/s take about 0.75 s of real time (late ones up to 0.4 s more).
        #expect(took >= .milliseconds(650))
        #expect(took < .seconds(30))  // generous: CPU-bound tests may share the two cores
        #expect(log.count >= 2)
        #expect(log.last == final)
        // Batches: one per 10 ms tick, not one per reading.
        #expect(await sink.batchSizes.count < published.count / 2)
    }

    @Test(.timeLimit(.minutes(1)))
    func durationBoundedRunStopsOnTime() async throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        let sink = RecordingSink()
        let service = try SimulatorService(
            configuration: SimulatorConfiguration(fleet: fleet, duration: .milliseconds(600)),
            sink: sink
        )
        let clock = ContinuousClock()
        let started = clock.now
        let final = try await service.runReturningProgress()
        let took = clock.now - started
        // 0.6 s of probe (2 × 10/s) and pump (5/s): 6 + 6 + 3 readings.
        #expect(final.readings == 15)
        #expect(await sink.publications.filter(\.isTelemetry).allSatisfy { $0.offsetMilliseconds < 1000 })
        #expect(took >= .milliseconds(500) && took < .seconds(30))
    }

    @Test(.timeLimit(.minutes(1)))
    func gracefulShutdownStopsAnEndlessRun() async throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        let sink = RecordingSink()
        let service = try SimulatorService(
            configuration: SimulatorConfiguration(fleet: fleet, targetRate: 500, startMilliseconds: TestSupport.start),
            sink: sink
        )
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [service], logger: Logger(label: "test"))
        )
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            // Shut down once it is publishing (waiting on the sink, not on the clock: other tests
            // may hold the CPU).
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while await sink.publications.filter(\.isTelemetry).count < 60, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let published = await sink.publications
        #expect(published.filter(\.isTelemetry).count > 50)
        var generator = FleetGenerator(fleet: service.pacedFleet, startMilliseconds: TestSupport.start)
        let expected = (0..<published.count).compactMap { _ in generator.next() }
        #expect(published == expected)
    }

    @Test(.timeLimit(.minutes(1)))
    func sinkErrorsAreCountedAndTheRunGoesOn() async throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        let sink = FlakySink()
        let service = try SimulatorService(
            configuration: SimulatorConfiguration(fleet: fleet, targetRate: 2000, count: 400, maxBatch: 40),
            sink: sink
        )
        let final = try await service.runReturningProgress()
        let calls = await sink.calls
        #expect(calls >= 10)  // at most 40 per batch
        #expect(final.errors == calls / 2)
        #expect(final.published == (await sink.accepted).count)
    }

    @Test func unreachableRateIsRefusedUpFront() throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        #expect(throws: ProfileError.self) {
            try SimulatorService(
                configuration: SimulatorConfiguration(fleet: fleet, targetRate: 1e9),
                sink: RecordingSink()
            )
        }
    }
}
