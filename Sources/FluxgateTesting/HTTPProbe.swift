import Foundation

/// Plain HTTP GETs for tests, through `curl` as a child process (no pipes to race with: the body
/// and status go to files that are read after curl exited).
public enum HTTPProbe {
    /// An answer: status code (0 when nothing answered) and body text.
    public struct Answer: Sendable {
        public var status: Int
        public var body: String
    }

    /// `GET url`, giving up after `timeout` seconds (curl's `--max-time`).
    ///
    /// - Throws: `FixtureError` `spawn-failed` when curl is missing, `timeout` when it hangs.
    public static func get(_ url: String, timeout: Int = 5) async throws -> Answer {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-http-\(UUID().uuidString)").path
        defer {
            try? FileManager.default.removeItem(atPath: base + ".body")
            try? FileManager.default.removeItem(atPath: base + ".status")
        }
        let curl = try ChildProcess.spawn(
            "/usr/bin/curl",
            arguments: ["-s", "--max-time", String(timeout), "-o", base + ".body", "-w", "%{http_code}", url],
            output: .file(base + ".status")
        )
        try await curl.waitForExit(timeout: .seconds(timeout + 5))
        let status = (try? String(contentsOfFile: base + ".status", encoding: .utf8)).flatMap { Int($0) } ?? 0
        let body = (try? String(contentsOfFile: base + ".body", encoding: .utf8)) ?? ""
        return Answer(status: status, body: body)
    }

    /// Whether `GET url` answers 200 right now.
    public static func isOK(_ url: String) async -> Bool {
        (try? await get(url, timeout: 3).status) == 200
    }
}
