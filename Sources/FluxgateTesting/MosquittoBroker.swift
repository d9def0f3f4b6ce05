import Foundation
import Logging
import Synchronization

/// A real `mosquitto` broker for tests: its own process on a free loopback port, a generated
/// configuration in a temporary folder, stop/restart on the same port, cleanup of its own files.
///
///     let broker = try await MosquittoBroker.start()
///     defer { broker.shutdown() }
///     // connect to 127.0.0.1:broker.port (or broker.url)
///
/// Only the broker's own pid is ever signalled. `shutdown()` (or the last reference going away)
/// kills it and removes the temporary folder.
public final class MosquittoBroker: Sendable {
    /// Settings written into the generated `mosquitto.conf`.
    public struct Configuration: Sendable {
        /// The broker binary. Default: `/usr/sbin/mosquitto` (Debian package `mosquitto`), or
        /// the `FLUXGATE_MOSQUITTO` environment variable.
        public var executable: String
        /// `persistence`: keep sessions and queued messages across a broker restart. Default `true`.
        public var persistence: Bool = true
        /// `max_queued_messages` per client while offline or beyond the in-flight window; `0` means
        /// no limit. Default `0` (the broker's own default, 1000, drops messages in bulk tests).
        public var maxQueuedMessages: Int = 0
        /// `max_inflight_messages` for MQTT 3.1.1 clients (MQTT 5 clients announce their own
        /// Receive Maximum); `0` means no limit. Default `0` (the broker's own default is 20).
        public var maxInflightMessages: Int = 0
        /// `persistent_client_expiration`: how long a 3.1.1 persistent session survives
        /// disconnected, e.g. `"1h"`. Default `"1h"`.
        public var persistentClientExpiration: String? = "1h"
        /// `log_type all` instead of errors, warnings and notices. Default `false`.
        public var verboseLog: Bool = false
        /// Extra configuration lines, appended verbatim.
        public var extraLines: [String] = []

        public init() {
            self.executable = ProcessInfo.processInfo.environment["FLUXGATE_MOSQUITTO"] ?? "/usr/sbin/mosquitto"
        }
    }

    /// The loopback port the broker listens on (kept across `restart()`).
    public let port: Int
    /// Always `127.0.0.1`.
    public let host = "127.0.0.1"
    /// `mqtt://127.0.0.1:PORT`.
    public var url: String { "mqtt://\(host):\(port)" }
    /// The temporary folder with `mosquitto.conf`, `mosquitto.log` and the persistence file.
    public let directory: URL
    /// The broker log file.
    public var logFile: URL { directory.appendingPathComponent("mosquitto.log") }

    private let configuration: Configuration
    private let logger: Logger
    private let process: Mutex<ChildProcess?>

    private init(configuration: Configuration, port: Int, directory: URL, logger: Logger) {
        self.configuration = configuration
        self.port = port
        self.directory = directory
        self.logger = logger
        self.process = Mutex(nil)
    }

    deinit {
        process.withLock { $0?.kill() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Writes a configuration, starts mosquitto on a free loopback port and waits until it accepts.
    ///
    /// - Throws: `FixtureError` `mosquitto-not-installed` when the binary is missing,
    ///   `mosquitto-start-failed` when it exits or does not listen within 10 s (the message has
    ///   the log's tail).
    public static func start(
        _ configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "fluxgate.testing.mosquitto")
    ) async throws -> MosquittoBroker {
        guard FileManager.default.isExecutableFile(atPath: configuration.executable) else {
            throw FixtureError(
                code: "mosquitto-not-installed",
                message: "\(configuration.executable) not found: install the Debian package `mosquitto` (apt-get install mosquitto) or set FLUXGATE_MOSQUITTO"
            )
        }
        var lastError: (any Error)?
        for _ in 0..<3 {  // a free port can be taken by someone else before mosquitto binds it
            let port = try FreePort.next()
            let directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("fluxgate-mosquitto-\(port)-\(UInt32.random(in: 0...UInt32.max))")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let broker = MosquittoBroker(configuration: configuration, port: port, directory: directory, logger: logger)
            do {
                try broker.writeConfiguration()
                try await broker.launch()
                return broker
            } catch {
                lastError = error
                broker.shutdown()
            }
        }
        throw lastError ?? FixtureError(code: "mosquitto-start-failed", message: "mosquitto did not start")
    }

    /// Whether the broker process is running.
    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    /// The broker's pid while it runs.
    public var pid: Int32? { process.withLock { $0?.isRunning == true ? $0?.pid : nil } }

    /// Stops the broker with SIGTERM (it saves its persistence file) and waits for it to exit.
    public func stop() async throws {
        guard let child = process.withLock({ $0 }) else { return }
        try await child.stop(grace: .seconds(5))
        process.withLock { $0 = nil }
    }

    /// Kills the broker with SIGKILL (nothing is saved) and waits for it to exit.
    public func kill() async throws {
        guard let child = process.withLock({ $0 }) else { return }
        child.kill()
        try await child.waitForExit(timeout: .seconds(5))
        process.withLock { $0 = nil }
    }

    /// Starts the broker again on the same port (after `stop()` or `kill()`).
    public func restart() async throws {
        try await stop()
        var lastError: (any Error)?
        for _ in 0..<20 {  // the old listening socket may linger for a moment
            do {
                try await launch()
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError ?? FixtureError(code: "mosquitto-start-failed", message: "mosquitto did not restart")
    }

    /// Kills the broker (if running) and removes its temporary folder. Idempotent.
    public func shutdown() {
        let child = process.withLock { current -> ChildProcess? in
            defer { current = nil }
            return current
        }
        child?.kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The broker log so far (empty when it cannot be read).
    public func log() -> String {
        (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
    }

    private func writeConfiguration() throws {
        var lines = [
            "# Generated by FluxgateTesting.MosquittoBroker",
            "listener \(port) \(host)",
            "allow_anonymous true",
            "log_dest file \(logFile.path)",
            "connection_messages true",
            "max_queued_messages \(configuration.maxQueuedMessages)",
            "max_queued_bytes 0",
            "max_inflight_messages \(configuration.maxInflightMessages)",
            "max_keepalive 65535",
        ]
        if configuration.verboseLog {
            lines.append("log_type all")
        } else {
            lines += ["log_type error", "log_type warning", "log_type notice", "log_type information"]
        }
        if configuration.persistence {
            lines += ["persistence true", "persistence_location \(directory.path)/", "autosave_interval 1800"]
        } else {
            lines.append("persistence false")
        }
        if let expiration = configuration.persistentClientExpiration {
            lines.append("persistent_client_expiration \(expiration)")
        }
        if getuid() == 0 {
            lines.append("user root")  // otherwise mosquitto drops to user `mosquitto`, who cannot write here
        }
        lines += configuration.extraLines
        let text = lines.joined(separator: "\n") + "\n"
        try text.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
    }

    private func launch() async throws {
        let child = try ChildProcess.spawn(
            configuration.executable,
            arguments: ["-c", directory.appendingPathComponent("mosquitto.conf").path],
            output: .file(directory.appendingPathComponent("mosquitto.stdout").path)
        )
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !child.isRunning { break }
            if FreePort.isAccepting(port: port) {
                process.withLock { $0 = child }
                logger.debug("mosquitto started", metadata: ["port": "\(port)", "pid": "\(child.pid)"])
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        child.kill()
        _ = try? await child.waitForExit(timeout: .seconds(5))
        let stdout = (try? String(contentsOf: directory.appendingPathComponent("mosquitto.stdout"), encoding: .utf8)) ?? ""
        throw FixtureError(
            code: "mosquitto-start-failed",
            message: "mosquitto did not listen on 127.0.0.1:\(port) within 10 s; output:\n\(stdout.suffix(1500))\nlog:\n\(log().suffix(1500))"
        )
    }
}
