import Foundation
import FluxgateTesting
import Kafka
import Telemetry
import Testing

/// Issue #6 end to end: readings published over MQTT reach a python-socketio client through
/// `fluxgate ingress`, Kafka, `fluxgate windowing` and `fluxgate hub` (all real processes): first
/// the device's history, then the live readings, and an alert after a threshold crossing.
@Suite("Pipeline: a Socket.IO client gets history, live readings and alerts", .serialized, .timeLimit(.minutes(4)))
struct LiveDashboardTests {
    static let rules = """
        windows: [10s]
        rules:
          - name: hot
            devices: "live-*"
            metric: temperature
            above: 30
            clear: 28
            severity: critical
        """

    @Test func historyThenLiveReadingsThenAlert() async throws {
        var configuration = Pipeline.Configuration()
        configuration.rulesYAML = Self.rules
        try await withPipeline(configuration) { pipeline in
            let device = "live-1"
            var published: [Int: Int64] = [:]  // seq -> ts
            func publish(_ seq: Int, temperature: Double) async throws {
                let ts = WallClock.nowMilliseconds()
                published[seq] = ts
                try await mosquittoPublish(
                    pipeline, topic: "devices/\(device)/telemetry",
                    payload: telemetryPayload(ts: ts, seq: seq, metrics: ["temperature": temperature]))
            }

            // History: five readings the hub has before the client subscribes.
            for seq in 0..<5 { try await publish(seq, temperature: 21 + Double(seq) / 10) }
            var lastAnswer = ""
            try await waitUntil(60, "the hub has seq 4 of \(device); last answer: \(lastAnswer)") {
                let answer = try await HTTPProbe.get(pipeline.url(.hub) + "/api/devices/\(device)")
                lastAnswer = answer.body
                return answer.status == 200 && answer.body.contains(#""lastSeq":4"#)
            }

            let client = try PythonSocketIOClient.start(
                pipeline.url(.hub), ["--subscribe", #"{"devices":["\#(device)"]}"#, "--duration", "120"])
            defer { client.process.kill() }
            try await client.waitForEvent("history", timeout: .seconds(60)) { $0["device"] as? String == device }
            let history = try #require(client.payloads(of: "history").first)
            let historySeqs = (history["readings"] as? [[String: Any]] ?? []).compactMap { $0["seq"] as? Int }
            #expect(historySeqs == [0, 1, 2, 3, 4], "history: \(history)")
            #expect(client.lines.contains { $0.hasPrefix("ACK subscribe") && $0.contains(#""ok": true"#) }, "\(client.lines)")

            // Live readings, one after another as a sensor sends them.
            for seq in 5..<8 { try await publish(seq, temperature: 22) }
            try await client.waitForEvent("reading", timeout: .seconds(60)) { $0["seq"] as? Int == 7 }

            // A threshold crossing: an alert reaches the client; the next normal reading clears it.
            try await publish(8, temperature: 35.5)
            try await client.waitForEvent("alert", timeout: .seconds(60)) { $0["state"] as? String == "active" }
            try await publish(9, temperature: 22)
            try await client.waitForEvent("alert", timeout: .seconds(60)) { $0["state"] as? String == "cleared" }

            let lines = client.lines
            let historyLine = try #require(lines.firstIndex { $0.hasPrefix("EVENT history") })
            let firstLive = try #require(lines.firstIndex { $0.hasPrefix("EVENT reading") })
            #expect(historyLine < firstLive, "history before live events")
            let liveSeqs = client.payloads(of: "reading").compactMap { $0["seq"] as? Int }
            #expect(liveSeqs == [5, 6, 7, 8, 9], "live readings: none of the history again, none missing, in order")

            let alerts = client.payloads(of: "alert")
            #expect(alerts.map { $0["state"] as? String } == ["active", "cleared"], "\(alerts)")
            let active = try #require(alerts.first)
            #expect(active["rule"] as? String == "hot")
            #expect(active["device"] as? String == device)
            #expect(active["value"] as? Double == 35.5)
            #expect((active["ts"] as? NSNumber)?.int64Value == published[8], "activated by the crossing reading")
            #expect(alerts.last?["id"] as? String == active["id"] as? String)
            #expect((alerts.last?["ts"] as? NSNumber)?.int64Value == published[9])
            await client.stop()
        }
    }

    /// Client A acknowledges the alert on hub 1; client B, on a second hub, sees it acknowledged;
    /// the windowing stage records the `acknowledged` transition in `<prefix>alerts`.
    @Test func acknowledgementOnOneHubReachesAClientOfAnother() async throws {
        var configuration = Pipeline.Configuration()
        configuration.rulesYAML = Self.rules
        try await withPipeline(configuration) { pipeline in
            let device = "live-2"
            let port = try FreePort.next()
            let secondHub = try pipeline.fluxgate(pipeline.arguments(for: .hub, httpPort: port, instance: "2"), output: .discard)
            defer { secondHub.kill() }
            try await waitUntil(60, "the second hub ready") {
                guard secondHub.isRunning else { throw TestTimeout(what: "the second hub exited with \(secondHub.exitStatus ?? -1)") }
                return await HTTPProbe.isOK("http://127.0.0.1:\(port)/readyz")
            }
            let subscribe = ["--subscribe", #"{"devices":["\#(device)"]}"#, "--duration", "120"]
            let clientA = try PythonSocketIOClient.start(pipeline.url(.hub), subscribe + ["--ack-on-alert", "--name", "alice"])
            defer { clientA.process.kill() }
            let clientB = try PythonSocketIOClient.start("http://127.0.0.1:\(port)", subscribe)
            defer { clientB.process.kill() }
            for client in [clientA, clientB] {
                try await client.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("ACK subscribe") }
            }

            let reader = try TopicReader(pipeline, ["alerts"])
            try await whileRunning([reader], logger: testLogger) {
                try await mosquittoPublish(
                    pipeline, topic: "devices/\(device)/telemetry",
                    payload: telemetryPayload(ts: WallClock.nowMilliseconds(), seq: 0, metrics: ["temperature": 41]))
                try await clientA.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("ACK alert:ack") }
                #expect(clientA.lines.contains { $0.hasPrefix("ACK alert:ack") && $0.contains(#""ok": true"#) }, "\(clientA.lines.suffix(5))")
                let active = try #require(clientA.payloads(of: "alert").first { $0["state"] as? String == "active" })
                let id = try #require(active["id"] as? String)
                try await clientB.waitForEvent("alert", timeout: .seconds(60)) {
                    $0["id"] as? String == id && $0["state"] as? String == "acknowledged"
                }
                #expect(clientB.payloads(of: "alert").contains { $0["id"] as? String == id && $0["state"] as? String == "active" })
                try await waitUntil(60, "the acknowledged transition in Kafka") {
                    reader.records(pipeline.topic("alerts")).compactMap { try? AlertTransition.decode($0.value) }
                        .contains { $0.id == id && $0.state == .acknowledged && $0.ackedBy == "alice" }
                }
            }
            await clientA.stop()
            await clientB.stop()
            _ = try? await secondHub.stop(grace: .seconds(10))
        }
    }
}
