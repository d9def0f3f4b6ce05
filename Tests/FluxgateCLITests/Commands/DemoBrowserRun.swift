import Foundation
import FluxgateTesting
import Testing

/// One run of `Browser/demo_dashboards.py` (headless Chromium over the DevTools protocol) against
/// a `fluxgate demo` started for it: the driver's JSON lines, parsed.
struct DemoBrowserRun {
    /// `{"check", "ok", "detail"}` lines, in order.
    let checks: [(name: String, ok: Bool, detail: Any?)]
    /// `{"screenshot", "bytes", "width", "height"}` lines.
    let screenshots: [[String: Any]]
    /// `{"measure", ...}` lines by measure name.
    let measures: [String: [String: Any]]
    /// The last line, `{"done": true, "failed": N}`, if the driver got that far.
    let done: [String: Any]?
    /// The driver's exit status.
    let status: Int32
    /// The driver's stderr and the demo's last log lines, for failure messages.
    let context: String

    /// Where screenshots go: `.artifacts/screenshots/demo-dashboards/` (git-ignored).
    static let screenshotFolder = CLITestSupport.packageRoot.appendingPathComponent(".artifacts/screenshots/demo-dashboards")

    /// Starts the built `fluxgate demo` as the README does (from the repository root, so with
    /// its default `dashboards` and `vendor` folders) but on a free HTTP port, waits for its
    /// dashboard URL, runs the driver's `steps` against it (the demo's MQTT port from its
    /// `mqtt=127.0.0.1:<port>` log line) and stops the demo (SIGTERM, as Ctrl-C would) whatever
    /// happened.
    static func run(steps: String, extraArguments: [String] = []) async throws -> DemoBrowserRun {
        // `env -C` changes directory and then execs, so the child's pid is the demo's.
        let demo = try ChildProcess.spawn(
            "/usr/bin/env",
            arguments: [
                "-C", CLITestSupport.packageRoot.path, try BuiltExecutable.path("fluxgate"), "demo",
                "--http-port", "\(try FreePort.next())",
            ])
        defer { demo.kill() }
        do {
            let result = try await drive(demo, steps: steps, extraArguments: extraArguments)
            try await stop(demo)
            return result
        } catch {
            try? await stop(demo)
            throw error
        }
    }

    private static func drive(_ demo: ChildProcess, steps: String, extraArguments: [String]) async throws -> DemoBrowserRun {
        try await demo.waitForOutput(timeout: .seconds(90)) { $0.first?.hasPrefix("http://") == true }
        let url = try #require(demo.outputLines.first)
        let mqttPort = try #require(
            CLITestSupport.metadataInteger("mqtt=127.0.0.1:", in: demo.errorLines), "the demo logs its MQTT address")
        let root = CLITestSupport.packageRoot
        let driver = try ChildProcess.spawn(
            root.appendingPathComponent(".venv/bin/python").path,
            arguments: [
                "-u", root.appendingPathComponent("Tests/FluxgateCLITests/Commands/Browser/demo_dashboards.py").path,
                "--url", url, "--mqtt-port", "\(mqttPort)", "--steps", steps, "--out", screenshotFolder.path,
            ] + extraArguments)
        let status: Int32
        do {
            status = try await driver.waitForExit(timeout: .seconds(270))
        } catch {
            _ = try? await driver.stop(grace: .seconds(10))  // SIGTERM: the driver's browser is stopped by it
            throw error
        }
        try? await driver.waitForOutput(timeout: .seconds(2)) { $0.last?.contains("\"done\"") == true }
        let objects = driver.outputLines.compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
        var checks: [(String, Bool, Any?)] = []
        var screenshots: [[String: Any]] = []
        var measures: [String: [String: Any]] = [:]
        var done: [String: Any]?
        for object in objects {
            if let name = object["check"] as? String {
                checks.append((name, object["ok"] as? Bool ?? false, object["detail"]))
            } else if object["screenshot"] != nil {
                screenshots.append(object)
            } else if let name = object["measure"] as? String {
                measures[name] = object
            } else if object["done"] != nil {
                done = object
            }
        }
        let context = (driver.errorLines.suffix(30) + ["-- demo --"] + demo.errorLines.suffix(15)).joined(separator: "\n")
        return DemoBrowserRun(
            checks: checks, screenshots: screenshots, measures: measures, done: done, status: status, context: context)
    }

    /// SIGTERM and wait (the demo stops its mosquitto); if the demo had to be killed, its broker
    /// (an orphan then) is killed by the pid the demo logged.
    private static func stop(_ demo: ChildProcess) async throws {
        let status = try await demo.stop(grace: .seconds(15))
        if status != 0, let pid = CLITestSupport.metadataInteger("mosquitto-pid", in: demo.errorLines),
            CLITestSupport.processExists(pid)
        {
            kill(pid, SIGKILL)
        }
    }

    /// Expects every check in `names` to be reported and passed, and no other check to fail.
    func expectChecks(_ names: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let comment = Comment(rawValue: context)
        for name in names {
            let found = checks.first { $0.name == name }
            #expect(found != nil, "check not reported: \(name)", sourceLocation: sourceLocation)
            if let found {
                #expect(found.ok, "\(name): \(found.detail ?? "no detail")", sourceLocation: sourceLocation)
            }
        }
        for check in checks where !check.ok && !names.contains(check.name) {
            Issue.record("\(check.name) failed: \(check.detail ?? "no detail")", sourceLocation: sourceLocation)
        }
        #expect(status == 0 && done?["failed"] as? Int == 0, comment, sourceLocation: sourceLocation)
    }

    /// Expects the screenshot `name` to be reported and to be a real PNG of the page: the full
    /// 1280x900 viewport and more than `minimumBytes` (an empty dark page compresses to a few KB).
    func expectScreenshot(_ name: String, minimumBytes: Int = 30_000, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = Self.screenshotFolder.appendingPathComponent(name).path
        let reported = screenshots.first { $0["screenshot"] as? String == path }
        #expect(reported != nil, "screenshot \(name) not reported", sourceLocation: sourceLocation)
        let data = FileManager.default.contents(atPath: path) ?? Data()
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(path) is a PNG", sourceLocation: sourceLocation)
        #expect(data.count > minimumBytes, "\(path): \(data.count) bytes", sourceLocation: sourceLocation)
        #expect(reported?["width"] as? Int == 1280 && reported?["height"] as? Int == 900, sourceLocation: sourceLocation)
        print("screenshot: \(path) (\(data.count) bytes)")
    }
}
