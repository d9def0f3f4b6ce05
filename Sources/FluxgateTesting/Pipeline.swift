import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The whole Fluxgate pipeline as real processes, for end-to-end tests: a mosquitto broker
/// (``MosquittoBroker``), the dev Kafka cluster (`fluxgate dev-kafka`, a child process, reached over
/// TCP), and the stages `fluxgate ingress`, `fluxgate windowing` and `fluxgate hub`, each a child
/// process of the built `fluxgate` executable on its own free loopback port, all on one unique
/// Kafka topic prefix.
///
///     try await withPipeline(configuration) { pipeline in
///         // publish to pipeline.broker.port, read Kafka at pipeline.kafkaBootstrap,
///         // connect Socket.IO clients to pipeline.url(.hub)
///         let exit = try await pipeline.terminate(.ingress)   // SIGTERM, timed
///         try await pipeline.start(.ingress)                  // same port, waits for /readyz
///     }
///
/// Every stage keeps its port across restarts. Only the pids this fixture started are ever
/// signalled; ``shutdown()`` (which ``withPipeline(_:_:)`` calls, also on failure) stops them all,
/// and the last reference going away SIGKILLs whatever still runs.
public final class Pipeline: Sendable {
    /// A stage process.
    public enum Stage: String, Sendable, CaseIterable, Hashable {
        case ingress, windowing, hub
    }

    /// What to start and how.
    public struct Configuration: Sendable {
        /// The stages to start, in this order (they stop in reverse order). Default: all three.
        public var stages: [Stage] = Stage.allCases
        /// The windowing stage's rules file (`--rules`) as YAML text. Default `nil`: the built-in
        /// standard rules.
        public var rulesYAML: String?
        /// Partitions of each Fluxgate topic. Default 2.
        public var partitions = 2
        /// Brokers of the dev cluster. Default 1.
        public var kafkaBrokerCount = 1
        /// Extra command-line arguments per stage (e.g. `--stats-update-interval off`).
        public var extraArguments: [Stage: [String]] = [:]
        /// `--log-level` of every process. Default `warning`.
        public var logLevel = "warning"
        /// The broker's settings. Default: ``MosquittoBroker/Configuration`` defaults.
        public var mosquitto = MosquittoBroker.Configuration()
        /// How long a stage may take to answer `/readyz` with 200. Default 90 s (a restarted
        /// windowing stage gets partitions only when the old member's 45 s session expired: after
        /// a SIGKILL, and on the dev cluster after a SIGTERM too, whose LeaveGroup it ignores).
        public var readyTimeout: Duration = .seconds(90)

        /// The defaults above.
        public init() {}
    }

    /// How a stage ended: its exit status and how long it took from the signal to the exit.
    public struct StageExit: Sendable, CustomStringConvertible {
        public let status: Int32
        public let duration: Duration
        public var description: String { "status \(status) after \(duration)" }
    }

    /// The MQTT broker (publish to `127.0.0.1:broker.port`).
    public let broker: MosquittoBroker
    /// The dev cluster's bootstrap list, `host:port,...`.
    public let kafkaBootstrap: String
    /// The dev cluster's brokers as a list.
    public var kafkaBrokers: [String] { kafkaBootstrap.split(separator: ",").map(String.init) }
    /// The topic prefix of this pipeline, e.g. `pt3f9a1c.` (topics: `<prefix>readings`, ...).
    public let topicPrefix: String
    /// The configuration it was started with.
    public let configuration: Configuration
    /// The repository root (dashboards, vendor, devices, Tests).
    public static let repositoryRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    private let executable: String
    private let directory: URL
    private let ports: [Stage: Int]
    private let devKafka: ChildProcess
    private let running: Mutex<[Stage: ChildProcess]>

    private init(
        configuration: Configuration, executable: String, directory: URL, broker: MosquittoBroker, devKafka: ChildProcess,
        kafkaBootstrap: String, topicPrefix: String, ports: [Stage: Int]
    ) {
        self.configuration = configuration
        self.executable = executable
        self.directory = directory
        self.broker = broker
        self.devKafka = devKafka
        self.kafkaBootstrap = kafkaBootstrap
        self.topicPrefix = topicPrefix
        self.ports = ports
        self.running = Mutex([:])
    }

    deinit {
        running.withLock { $0.values.forEach { $0.kill() } }
        devKafka.kill()
        broker.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the broker, the dev cluster and the configured stages, and waits until every stage
    /// answers `/readyz` with 200.
    ///
    /// - Throws: `FixtureError` (`not-built`, `mosquitto-not-installed`, `dev-kafka-failed`,
    ///   `stage-exited`, `port-in-use`, `timeout`) with the process's log tail; whatever started is stopped.
    public static func start(_ configuration: Configuration = Configuration()) async throws -> Pipeline {
        let executable = try BuiltExecutable.path("fluxgate")
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-pipeline-\(suffix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let rules = configuration.rulesYAML {
            try rules.write(to: directory.appendingPathComponent("rules.yaml"), atomically: true, encoding: .utf8)
        }
        let broker: MosquittoBroker
        do {
            broker = try await MosquittoBroker.start(configuration.mosquitto)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        let prefix = "pt\(suffix)."
        let devKafka: ChildProcess
        let bootstrap: String
        do {
            devKafka = try ChildProcess.spawn(
                executable,
                arguments: [
                    "dev-kafka", "--broker-count", String(configuration.kafkaBrokerCount), "--partitions",
                    String(configuration.partitions), "--kafka-topic-prefix", prefix, "--log-level", configuration.logLevel,
                ],
                environment: stageEnvironment()
            )
            do {
                try await devKafka.waitForOutput(timeout: .seconds(60)) { !$0.isEmpty }
            } catch {
                devKafka.kill()
                throw FixtureError(code: "dev-kafka-failed", message: "fluxgate dev-kafka printed no bootstrap list: \(error)")
            }
            bootstrap = devKafka.outputLines[0].trimmingCharacters(in: .whitespaces)
        } catch {
            broker.shutdown()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
        var ports: [Stage: Int] = [:]
        for stage in Stage.allCases { ports[stage] = try FreePort.next() }
        let pipeline = Pipeline(
            configuration: configuration, executable: executable, directory: directory, broker: broker, devKafka: devKafka,
            kafkaBootstrap: bootstrap, topicPrefix: prefix, ports: ports)
        do {
            for stage in configuration.stages { try pipeline.spawn(stage) }
            for stage in configuration.stages { try await pipeline.waitUntilReady(stage) }
        } catch {
            await pipeline.shutdown()
            throw error
        }
        return pipeline
    }

    // MARK: - Addresses

    /// The stage's HTTP port (hub: dashboards, Socket.IO, API; others: /healthz, /readyz, /metrics).
    public func port(_ stage: Stage) -> Int { ports[stage] ?? 0 }

    /// `http://127.0.0.1:PORT` of the stage.
    public func url(_ stage: Stage) -> String { "http://127.0.0.1:\(port(stage))" }

    /// The topic `<prefix><name>`, e.g. `topic("readings")`.
    public func topic(_ name: String) -> String { topicPrefix + name }

    /// The stage's running process, if any.
    public func process(_ stage: Stage) -> ChildProcess? { running.withLock { $0[stage] } }

    /// The last `lines` lines of the stage's log (standard output and error of every run).
    public func logTail(_ stage: Stage, lines: Int = 20) -> String {
        let text = (try? String(contentsOf: logFile(stage), encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    // MARK: - Controlling stages

    /// Starts `stage` (again) on its port and waits until it is ready.
    ///
    /// - Throws: `FixtureError` `already-running`, `stage-exited`, `port-in-use` or `timeout` (with the log tail).
    public func start(_ stage: Stage) async throws {
        try spawn(stage)
        try await waitUntilReady(stage)
    }

    /// Sends SIGTERM to `stage` and waits for it to exit, measuring the time from the signal to
    /// the exit. After `timeout` it is SIGKILLed and `stop-timeout` is thrown.
    @discardableResult
    public func terminate(_ stage: Stage, timeout: Duration = .seconds(30)) async throws -> StageExit {
        try await stop(stage, signal: SIGTERM, timeout: timeout)
    }

    /// SIGTERM (see ``terminate(_:timeout:)``), then ``start(_:)`` again on the same port.
    @discardableResult
    public func restart(_ stage: Stage) async throws -> StageExit {
        let exit = try await terminate(stage)
        try await start(stage)
        return exit
    }

    /// Sends SIGKILL to `stage` and waits for it to exit.
    @discardableResult
    public func kill(_ stage: Stage) async throws -> StageExit {
        try await stop(stage, signal: SIGKILL, timeout: .seconds(10))
    }

    /// Runs the built `fluxgate` with `arguments` (e.g. `simulate ...`) with the environment the
    /// stages get. The caller owns the process (it is SIGKILLed when the last reference goes).
    public func fluxgate(_ arguments: [String], output: ChildProcess.Output = .capture) throws -> ChildProcess {
        try ChildProcess.spawn(executable, arguments: arguments, environment: Self.stageEnvironment(), output: output)
    }

    /// Stops every stage (SIGTERM, SIGKILL after 10 s) in reverse start order, then the dev
    /// cluster and the broker; removes the temporary folder. Idempotent.
    public func shutdown() async {
        for stage in configuration.stages.reversed() + Stage.allCases {
            guard let child = running.withLock({ $0.removeValue(forKey: stage) }) else { continue }
            _ = try? await child.stop(grace: .seconds(10))
        }
        _ = try? await devKafka.stop(grace: .seconds(10))
        broker.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Internals

    private func logFile(_ stage: Stage) -> URL { directory.appendingPathComponent("\(stage.rawValue).log") }

    /// The command line of `stage` in this pipeline, on `httpPort` (default: the stage's own port).
    /// A second instance of a stage (start it with ``fluxgate(_:output:)``) needs another port and
    /// an `instance` name, which makes its MQTT client id (ingress) or instance id (hub) unique.
    public func arguments(for stage: Stage, httpPort: Int? = nil, instance: String? = nil) -> [String] {
        let suffix = instance.map { "-\($0)" } ?? ""
        var arguments = [
            stage.rawValue, "--kafka-brokers", kafkaBootstrap, "--kafka-topic-prefix", topicPrefix,
            "--log-level", configuration.logLevel, "--http-port", String(httpPort ?? port(stage)),
        ]
        switch stage {
        case .ingress:
            arguments += ["--mqtt-url", broker.url, "--mqtt-client-id", "pipeline-ingress-\(topicPrefix.dropLast())\(suffix)"]
        case .windowing:
            arguments += ["--kafka-fetch-wait", "10ms"]  // the dev cluster (DevKafkaCluster.consumerProperties)
            if configuration.rulesYAML != nil {
                arguments += ["--rules", directory.appendingPathComponent("rules.yaml").path]
            }
        case .hub:
            arguments += [
                "--dashboards-dir", Self.repositoryRoot + "/dashboards", "--vendor-dir", Self.repositoryRoot + "/vendor",
                "--instance-id", "pipeline-hub\(suffix)", "--kafka-fetch-wait", "10ms",
            ]
        }
        return arguments + (configuration.extraArguments[stage] ?? [])
    }

    private func spawn(_ stage: Stage) throws {
        if let existing = process(stage), existing.isRunning {
            throw FixtureError(code: "already-running", message: "\(stage) runs already (pid \(existing.pid)); stop it first")
        }
        let child = try ChildProcess.spawn(
            executable, arguments: arguments(for: stage), environment: Self.stageEnvironment(), output: .file(logFile(stage).path))
        running.withLock { $0[stage] = child }
    }

    private func waitUntilReady(_ stage: Stage) async throws {
        guard let child = process(stage) else {
            throw FixtureError(code: "not-running", message: "\(stage) is not running")
        }
        let readyz = url(stage) + "/readyz"
        let deadline = ContinuousClock.now + configuration.readyTimeout
        while true {
            if !child.isRunning {
                let log = logTail(stage)
                // FreePort keeps its ports away from the kernel and other fixtures; a process that
                // binds fixed ports in its range is the one cause left.
                let code = log.contains("Address already in use") ? "port-in-use" : "stage-exited"
                throw FixtureError(
                    code: code,
                    message: "fluxgate \(stage) exited (status \(child.exitStatus ?? -1)) before it was ready on port \(port(stage)); log:\n\(log)")
            }
            if await HTTPProbe.isOK(readyz) { return }
            if ContinuousClock.now >= deadline {
                throw FixtureError(
                    code: "timeout",
                    message: "fluxgate \(stage) not ready within \(configuration.readyTimeout); log:\n\(logTail(stage))")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func stop(_ stage: Stage, signal: Int32, timeout: Duration) async throws -> StageExit {
        guard let child = process(stage), child.isRunning else {
            throw FixtureError(code: "not-running", message: "\(stage) is not running")
        }
        let start = ContinuousClock.now
        child.send(signal: signal)
        do {
            let status = try await child.waitForExit(timeout: timeout)
            let exit = StageExit(status: status, duration: ContinuousClock.now - start)
            running.withLock { if $0[stage] === child { $0[stage] = nil } }
            return exit
        } catch {
            child.kill()
            _ = try? await child.waitForExit(timeout: .seconds(5))
            running.withLock { if $0[stage] === child { $0[stage] = nil } }
            throw FixtureError(
                code: "stop-timeout", message: "fluxgate \(stage) still ran \(timeout) after signal \(signal); log:\n\(logTail(stage))")
        }
    }

    /// This process's environment without `FLUXGATE_*` variables (a developer's settings must not
    /// leak into the stages).
    private static func stageEnvironment() -> [String: String] {
        ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLUXGATE_") }
    }
}

/// Starts a ``Pipeline``, runs `body` with it, and shuts it down afterwards, also when `body`
/// throws (then each stage's log tail goes to standard error first, for the test report).
public func withPipeline<T: Sendable>(
    _ configuration: Pipeline.Configuration = Pipeline.Configuration(),
    _ body: (Pipeline) async throws -> T
) async throws -> T {
    let pipeline = try await Pipeline.start(configuration)
    do {
        let result = try await body(pipeline)
        await pipeline.shutdown()
        return result
    } catch {
        for stage in configuration.stages {
            FileHandle.standardError.write(Data("--- fluxgate \(stage) log tail ---\n\(pipeline.logTail(stage, lines: 30))\n".utf8))
        }
        await pipeline.shutdown()
        throw error
    }
}
