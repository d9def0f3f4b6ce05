import Foundation
import FluxgateTesting
import Testing

@Suite("fluxgate demo (the built executable)", .serialized)
struct DemoCommandTests {
    /// The demo fleet's devices (devices/demo.yaml).
    static let demoDeviceCount = 13

    @Test("prints the URL, becomes ready, serves live readings of the demo fleet, stops on SIGTERM within 10 s without leftovers", .timeLimit(.minutes(3)))
    func demoEndToEnd() async throws {
        let executable = try BuiltExecutable.path("fluxgate")
        let port = try FreePort.next()
        let root = CLITestSupport.packageRoot
        let demo = try ChildProcess.spawn(
            executable,
            arguments: [
                "demo", "--http-port", "\(port)",
                "--dashboards-dir", root.appendingPathComponent("dashboards").path,
                "--vendor-dir", root.appendingPathComponent("vendor").path,
            ])
        defer { demo.kill() }
        do {
            try await checkDemo(demo, port: port)
        } catch {
            // A failed check must not leave the demo's broker behind: SIGKILL would orphan it.
            _ = try? await demo.stop(grace: .seconds(10))
            if let pid = CLITestSupport.metadataInteger("mosquitto-pid", in: demo.errorLines),
                CLITestSupport.processExists(pid), demo.exitStatus != nil
            {
                kill(pid, SIGKILL)
            }
            throw error
        }
    }

    func checkDemo(_ demo: ChildProcess, port: Int) async throws {
        let url = "http://127.0.0.1:\(port)/"
        try await demo.waitForOutput(timeout: .seconds(60)) { $0.contains(url) }
        #expect(demo.outputLines.first == url)

        let mosquittoPID = try #require(CLITestSupport.metadataInteger("mosquitto-pid", in: demo.errorLines))
        #expect(CLITestSupport.processExists(mosquittoPID))

        let ready = try await CLITestSupport.get(url + "readyz")
        #expect(ready.status == 200, "readyz: \(ready.body)")

        // Every device of the demo fleet shows up with live readings.
        var lastBody = ""
        let start = ContinuousClock.now
        try await waitUntil(30, "every demo device with readings in /api/devices; last answer: \(lastBody)") {
            let answer = try await CLITestSupport.get(url + "api/devices")
            lastBody = answer.body
            guard answer.status == 200,
                let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
                let devices = object["devices"] as? [[String: Any]]
            else { return false }
            let live = devices.filter { device in
                (device["metrics"] as? [String: Any]).map { !$0.isEmpty } ?? false
            }
            return live.count >= Self.demoDeviceCount
        }
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(lastBody.contains("greenhouse-001"))

        let stopping = ContinuousClock.now
        demo.terminate()
        let status = try await demo.waitForExit(timeout: .seconds(15))
        let stopTime = ContinuousClock.now - stopping
        #expect(status == 0, "exit status; stderr tail: \(demo.errorLines.suffix(15).joined(separator: "\n"))")
        #expect(stopTime < .seconds(10), "stopped in \(stopTime)")
        // The broker was our child: it is gone (reaped), not merely signalled.
        try await waitUntil(5, "mosquitto \(mosquittoPID) gone") { !CLITestSupport.processExists(mosquittoPID) }
        // Its temporary folder (named after its port) is removed.
        let mqttPort = try #require(CLITestSupport.metadataInteger("mqtt=127.0.0.1:", in: demo.errorLines))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.temporaryDirectory.path)
            .filter { $0.hasPrefix("fluxgate-demo-mosquitto-\(mqttPort)-") }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
    }

    @Test("a clear message and exit status 69 when mosquitto is not installed", .timeLimit(.minutes(1)))
    func missingMosquitto() async throws {
        let executable = try BuiltExecutable.path("fluxgate")
        var environment = ProcessInfo.processInfo.environment
        environment["FLUXGATE_MOSQUITTO"] = "/nonexistent/mosquitto"
        let demo = try ChildProcess.spawn(executable, arguments: ["demo", "--http-port", "\(try FreePort.next())"], environment: environment)
        defer { demo.kill() }
        let status = try await demo.waitForExit(timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        #expect(status == 69)
        #expect(demo.errorLines.joined(separator: "\n").contains("install the Debian package mosquitto (bash scripts/bootstrap.sh does)"))
    }
}
