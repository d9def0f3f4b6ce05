import Foundation
import FluxgateTesting
import Kafka
import Testing
import Telemetry
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `fluxgate windowing` as a process, killed with SIGKILL mid-stream and started again: no
/// window lost, no contradictory transition.
@Suite("fluxgate windowing process", .serialized, .timeLimit(.minutes(4)))
struct WindowingProcessTests {
    static func isReady(port: Int) async -> Bool {
        guard let url = URL(string: "http://127.0.0.1:\(port)/readyz") else { return false }
        guard let (_, response) = try? await URLSession.shared.data(from: url) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    @Test func sigkillMidStream() async throws {
        let executable = try BuiltExecutable.path("fluxgate")
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let rulesFile = FileManager.default.temporaryDirectory.appendingPathComponent("windowing-rules-\(UUID().uuidString).yaml")
        try testRulesYAML.write(to: rulesFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: rulesFile) }
        let arguments = [
            "windowing", "--kafka-brokers", environment.cluster.bootstrapServers,
            "--kafka-topic-prefix", environment.topics.prefix, "--rules", rulesFile.path,
            "--log-level", "warning", "--stats-update-interval", "off",
        ]
        @Sendable func spawnWindowing() async throws -> ChildProcess {
            let port = try FreePort.next()
            let process = try ChildProcess.spawn(executable, arguments: arguments + ["--http-port", String(port)])
            // Ready = partitions assigned; after a SIGKILL the group waits for the old member's
            // session to expire (45 s by default) before it rebalances.
            try await waitUntil(90, "windowing ready (\(process.errorLines.suffix(3)))") {
                guard process.isRunning else { throw TestTimeout(what: "windowing exited: \(process.errorLines.suffix(5))") }
                return await Self.isReady(port: port)
            }
            return process
        }

        let start = alignedStart(windowsBack: 8)
        @Sendable func temperature(_ index: Int) -> Double {
            (14...17).contains(index) ? 33.0 : 21.0 + Double(index % 4) * 0.5
        }
        let devices = (1...6).map { "k-\($0)" }
        @Sendable func readings(_ range: Range<Int>) -> [Reading] {
            devices.flatMap { device in
                range.map { reading(device, ts: start + Int64($0) * 1000, seq: UInt64($0), temperature: temperature($0)) }
            }
        }
        let collected = try environment.makeCollector()
        let feeder = try environment.makeProducer()
        try await whileRunning([feeder, collected], logger: testLogger) {
            let first = try await spawnWindowing()
            try await environment.produce(readings(0..<16), with: feeder)
            try await waitUntil(60, "first windows and active alerts") {
                devices.allSatisfy { device in
                    collected.finalWindows(device: device).count >= 1 && !collected.alerts(device: device).isEmpty
                }
            }
            first.kill()
            _ = try await first.waitForExit(timeout: .seconds(5))
            try await environment.produce(readings(16..<30), with: feeder)
            let second = try await spawnWindowing()
            try await waitUntil(60, "all final windows after the SIGKILL") {
                devices.allSatisfy { collected.finalWindows(device: $0).count >= 3 }
            }
            try await waitUntil(10, "cleared alerts") {
                devices.allSatisfy { device in collected.alerts(device: device).contains { $0.state == .cleared } }
            }
            _ = try await second.stop(grace: .seconds(10))
        }
        for device in devices {
            let expected = naiveWindows(readings(0..<30).filter { $0.device.rawValue == device })
            let windows = collected.finalWindows(device: device)
            #expect(Set(windows.keys) == Set(expected.keys), "\(device)")
            for (key, naive) in expected {
                let stats = try #require(windows[key])
                #expect(naive.matches(stats), "\(key): \(stats) vs \(naive)")
            }
            let finals = collected.stats.filter { $0.final && $0.device.rawValue == device }
            for (key, stats) in Dictionary(grouping: finals, by: \.key) {
                #expect(Set(stats.map(\.count)).count == 1, "\(key) has differing finals: \(stats.map(\.count))")
            }
            let alerts = collected.alerts(device: device).filter { $0.rule == "overheating" }
            #expect(Set(alerts.map(\.id)).count == 1, "\(device): \(alerts)")
            #expect(transitionsAreConsistent(alerts), "\(device): \(alerts.map(\.state))")
        }
        let duplicates = collected.stats.count - Set(collected.stats.map(\.key)).count
        print("sigkill: \(collected.stats.count) stats records, \(duplicates) duplicates by key; \(collected.alerts.count) transitions")
    }
}
