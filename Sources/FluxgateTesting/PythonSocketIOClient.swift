import Foundation

/// A python-socketio client process running `Tests/HubTests/Clients/hub_client.py` (from the
/// repository's `.venv`, see scripts/bootstrap.sh), which prints one line per thing that happens:
/// `CONNECTED <sid>`, `ACK <event> <json>`, `EVENT <name> <json>`, `DISCONNECTED`, ...
///
///     let client = try PythonSocketIOClient.start(pipeline.url(.hub), ["--subscribe", #"{"devices":["d1"]}"#])
///     try await client.waitForEvent("history") { $0["device"] as? String == "d1" }
///
/// The process is SIGKILLed when the last reference goes away; ``stop()`` ends it earlier.
public struct PythonSocketIOClient: Sendable {
    /// The client process.
    public let process: ChildProcess

    /// Starts the client against `url` with the script's options (see its docstring).
    ///
    /// - Throws: `FixtureError` `spawn-failed` when `.venv/bin/python` is missing (run
    ///   scripts/bootstrap.sh).
    public static func start(_ url: String, _ arguments: [String] = []) throws -> PythonSocketIOClient {
        let root = Pipeline.repositoryRoot
        let script = root + "/Tests/HubTests/Clients/hub_client.py"
        return PythonSocketIOClient(
            process: try ChildProcess.spawn(root + "/.venv/bin/python", arguments: ["-u", script, url] + arguments))
    }

    /// Every output line so far.
    public var lines: [String] { process.outputLines }

    /// The `EVENT <name> <json>` lines so far, in order, with the payload parsed (an empty object
    /// when it is not a JSON object).
    public var events: [(name: String, payload: [String: Any])] {
        lines.compactMap { line in
            guard line.hasPrefix("EVENT ") else { return nil }
            let rest = line.dropFirst(6)
            guard let space = rest.firstIndex(of: " ") else { return nil }
            let json = Data(rest[rest.index(after: space)...].utf8)
            return (String(rest[..<space]), (try? JSONSerialization.jsonObject(with: json)) as? [String: Any] ?? [:])
        }
    }

    /// The payloads of the events named `name`, in order.
    public func payloads(of name: String) -> [[String: Any]] {
        events.filter { $0.name == name }.map(\.payload)
    }

    /// Waits until an event `name` whose payload satisfies `predicate` has arrived.
    ///
    /// - Throws: `FixtureError` `timeout` with the client's last lines.
    public func waitForEvent(
        _ name: String, timeout: Duration = .seconds(30), where predicate: @escaping ([String: Any]) -> Bool = { _ in true }
    ) async throws {
        try await process.waitForOutput(timeout: timeout) { _ in
            payloads(of: name).contains(where: predicate)
        }
    }

    /// Waits until an output line satisfies `predicate` (e.g. `{ $0.hasPrefix("ACK subscribe") }`).
    public func waitForLine(timeout: Duration = .seconds(30), _ predicate: @escaping (String) -> Bool) async throws {
        try await process.waitForOutput(timeout: timeout) { $0.contains(where: predicate) }
    }

    /// Ends the client (SIGTERM, SIGKILL after 2 s).
    public func stop() async {
        _ = try? await process.stop(grace: .seconds(2))
    }
}
