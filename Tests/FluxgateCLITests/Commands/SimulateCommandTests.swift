import Foundation
import FluxgateTesting
import Logging
import MQTT
import Synchronization
import Testing

@Suite("fluxgate simulate (the built executable) against a real mosquitto", .serialized)
struct SimulateCommandTests {
    /// What a subscriber received.
    struct Received: Sendable {
        var telemetry: [String] = []  // "topic payload"
        var lastStatus: [String: String] = [:]  // device -> payload
    }

    /// Shared between the subscriber task and the test.
    final class Collector: Sendable {
        let state = Mutex(Received())
        func withLock<R>(_ body: (inout Received) -> R) -> R { state.withLock { body(&$0) } }
    }

    /// Runs `fluxgate simulate` with `arguments` while a subscriber (automatic acknowledgement)
    /// collects `devices/+/telemetry` and `devices/+/status`; returns the exit status and what came.
    func simulate(_ extra: [String], expectedReadings: Int) async throws -> (status: Int32, received: Received, stderr: [String]) {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let executable = try BuiltExecutable.path("fluxgate")
        var configuration = try MQTTConfiguration(url: broker.url, clientID: "simulate-test-subscriber")
        configuration.acknowledgement = .automatic
        let subscriber = try MQTTClient(configuration: configuration, logger: Logger(label: "test"))
        let received = Collector()
        return try await whileRunning([subscriber], logger: Logger(label: "test")) {
            try await subscriber.subscribe("devices/+/telemetry", qos: .atLeastOnce)
            try await subscriber.subscribe("devices/+/status", qos: .atLeastOnce)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await batch in subscriber.messages {
                        received.withLock { state in
                            for message in batch.messages {
                                let parts = message.topic.split(separator: "/")
                                if parts.last == "telemetry" {
                                    state.telemetry.append(message.topic + " " + message.payloadString)
                                } else if parts.count == 3 {
                                    state.lastStatus[String(parts[1])] = message.payloadString
                                }
                            }
                        }
                    }
                }
                let child = try ChildProcess.spawn(
                    executable, arguments: ["simulate", "--mqtt-url", broker.url, "--mqtt-client-id", "simulate-test"] + extra)
                defer { child.kill() }
                let status = try await child.waitForExit(timeout: .seconds(60))
                // QoS 1 end to end: everything acknowledged to the simulator reaches the subscriber.
                try? await waitUntil(10, "readings at the subscriber") {
                    received.withLock { $0.telemetry.count >= expectedReadings }
                }
                try await Task.sleep(for: .milliseconds(300))  // a straggler beyond the count would show
                group.cancelAll()
                return (status, received.withLock { $0 }, child.errorLines)
            }
        }
    }

    @Test("publishes exactly --count readings of the demo fleet, statuses retained, offline at the end, ground truth written", .timeLimit(.minutes(2)))
    func countedRun() async throws {
        let truth = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-truth-\(UInt32.random(in: 0...UInt32.max)).jsonl")
        defer { try? FileManager.default.removeItem(at: truth) }
        let (status, received, stderr) = try await simulate(
            ["--count", "400", "--rate", "400", "--seed", "7", "--ground-truth", truth.path], expectedReadings: 400)
        #expect(status == 0, "stderr: \(stderr.suffix(10).joined(separator: "\n"))")
        #expect(received.telemetry.count == 400)
        #expect(Set(received.telemetry).count == 400)
        // Every device of the demo fleet (13) published, and was marked offline at the end.
        #expect(received.lastStatus.count == 13)
        #expect(received.lastStatus.values.allSatisfy { $0 == "offline" })
        #expect(stderr.joined().contains("readings 400"))
        #expect(FileManager.default.fileExists(atPath: truth.path))
    }

    @Test("the same seed gives the same readings (values, devices, order per device)", .timeLimit(.minutes(2)))
    func deterministic() async throws {
        func readings(_ seed: String) async throws -> [String: [String]] {
            let (status, received, _) = try await simulate(["--count", "150", "--rate", "300", "--seed", seed], expectedReadings: 150)
            #expect(status == 0)
            // Per device, in order, without the wall-clock timestamp.
            var byDevice: [String: [String]] = [:]
            for line in received.telemetry {
                let topic = String(line.prefix { $0 != " " })
                let payload = line.dropFirst(topic.count + 1)
                    .replacing(/"ts":[0-9]+/, with: "")
                byDevice[topic, default: []].append(String(payload))
            }
            return byDevice
        }
        let first = try await readings("11")
        let second = try await readings("11")
        let other = try await readings("12")
        #expect(!first.isEmpty)
        #expect(first == second)
        #expect(first != other)
    }

    @Test("bad settings fail with a clear message before connecting", .timeLimit(.minutes(1)))
    func badSettings() async throws {
        let executable = try BuiltExecutable.path("fluxgate")
        let child = try ChildProcess.spawn(
            executable, arguments: ["simulate", "--mqtt-url", "mqtt://127.0.0.1:1", "--ground-truth", "/tmp/x.jsonl"])
        defer { child.kill() }
        let status = try await child.waitForExit(timeout: .seconds(20))
        try await Task.sleep(for: .milliseconds(50))
        #expect(status != 0)
        #expect(child.errorLines.joined().contains("--duration or --count"))
    }
}
