import Foundation
import FluxgateTesting

/// Helpers for tests that run the built `fluxgate` executable.
enum CLITestSupport {
    /// The package root (for the dashboards and vendor folders).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `GET url` with curl: the status code (0 when nothing answered) and the body.
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let curl = try ChildProcess.spawn(
            "/usr/bin/curl", arguments: ["-s", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}\n", url])
        _ = try await curl.waitForExit(timeout: .seconds(10))
        // The status line comes last; the output handler may still be reading it.
        try? await curl.waitForOutput(timeout: .seconds(2)) { $0.last.flatMap { Int($0) } != nil }
        let lines = curl.outputLines
        let status = lines.last.flatMap { Int($0) } ?? 0
        return (status, lines.dropLast().joined(separator: "\n"))
    }

    /// Whether a process with `pid` exists (signal 0).
    static func processExists(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// The first integer after `key=` (or after `key` when it ends with `:`) in `lines` (log
    /// metadata), if any.
    static func metadataInteger(_ key: String, in lines: [String]) -> Int32? {
        for line in lines {
            guard let range = line.range(of: key.hasSuffix(":") ? key : "\(key)=") else { continue }
            let digits = line[range.upperBound...].prefix { $0.isNumber }
            if let value = Int32(digits) { return value }
        }
        return nil
    }
}
