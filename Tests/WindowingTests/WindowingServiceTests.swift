import Foundation
import FluxgateTesting
import Synchronization
import Kafka
import Testing
import Telemetry
import Windowing

/// The windowing stage against a dev Kafka cluster over TCP: real consumer group, real
/// producer, real changelog.
@Suite("WindowingService", .serialized, .timeLimit(.minutes(3)))
struct WindowingServiceTests {
    /// 30 readings over three 10 s windows with one threshold crossing: the final windows equal a
    /// naive recomputation (the last one closed by the wall clock), and the alert goes active
    /// then cleared under one id.
    @Test func statsAndThresholdAlerts() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let start = alignedStart(windowsBack: 6)
        let readings = (0..<30).map { index in
            let temperature = index == 12 ? 31.5 : (index == 13 ? 27.0 : 20.0 + Double(index % 7) * 0.5)
            return reading("gh-1", ts: start + Int64(index) * 1000, seq: UInt64(index), temperature: temperature)
        }
        let expected = naiveWindows(readings)
        #expect(expected.count == 3)

        let (producer, windowing) = try environment.makeWindowing(statsUpdateInterval: .milliseconds(300))
        let collected = try environment.makeCollector()
        try await whileRunning([producer, collected, windowing], logger: testLogger) {
            try await environment.produce(readings, with: producer)
            try await waitUntil(60, "three final windows (have \(collected.finalWindows(device: "gh-1").count))") {
                collected.finalWindows(device: "gh-1").count >= 3
            }
            try await waitUntil(10, "active and cleared") { collected.alerts(device: "gh-1").count >= 2 }
        }
        let windows = collected.finalWindows(device: "gh-1")
        #expect(Set(windows.keys) == Set(expected.keys))
        for (key, naive) in expected {
            let stats = try #require(windows[key])
            #expect(naive.matches(stats), "\(key): \(stats) vs \(naive)")
        }
        let alerts = collected.alerts(device: "gh-1")
        #expect(alerts.map(\.state).prefix(2) == [.active, .cleared])
        #expect(Set(alerts.map(\.id)).count == 1)
        #expect(alerts.first?.rule == "overheating")
        #expect(alerts.first?.ts == start + 12_000)
        #expect(alerts.first?.id == AlertTransition.alertID(device: DeviceID("gh-1")!, rule: "overheating", activatedAt: start + 12_000))
        // Live updates of open windows came too, with the final records' keys.
        let live = collected.stats.filter { !$0.final && $0.device.rawValue == "gh-1" }
        #expect(!live.isEmpty)
        #expect(live.allSatisfy { expected.keys.contains($0.key) })
    }

    /// A state record larger than Kafka accepts is not retried forever: the stage stops with
    /// `windowing.record-too-large`, which says what to change. (A device with 64 metrics has a
    /// state record of about 5 KB; the producer here accepts 4 000 bytes.)
    @Test func aStateRecordTooLargeForKafkaStopsTheStageWithAClearError() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let start = alignedStart(windowsBack: 1)
        let metrics = (0..<64).map { Metric("metric_\($0)", Double($0) * 1.5) }
        let readings = [Reading(device: DeviceID("big")!, ts: start, seq: 0, metrics: metrics)]
        let (producer, windowing) = try environment.makeWindowing(maxRecordBytes: 4_000)
        let feeder = try environment.makeProducer()
        let failure = try await whileRunning([producer, feeder], logger: testLogger) {
            try await environment.produce(readings, with: feeder)
            return try await withTimeout(90, "the stage stopping") { () -> WindowingError? in
                do {
                    try await windowing.run()
                    return nil
                } catch let error as WindowingError {
                    return error
                }
            }
        }
        let error = try #require(failure, "the stage kept running or stopped without an error")
        #expect(error.code == .recordTooLarge)
        #expect(error.message.contains("max.message.bytes"))
    }

    /// An operator acknowledgement on the operator topic yields the `acknowledged` transition.
    @Test func operatorAcknowledgement() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let start = alignedStart(windowsBack: 1)
        let (producer, windowing) = try environment.makeWindowing()
        let collected = try environment.makeCollector()
        try await whileRunning([producer, collected, windowing], logger: testLogger) {
            try await environment.produce([reading("pump-7", ts: start, seq: 1, temperature: 35)], with: producer)
            try await waitUntil(60, "active alert") { !collected.alerts(device: "pump-7").isEmpty }
            let active = try #require(collected.alerts(device: "pump-7").first)
            #expect(active.state == .active)
            let ack = OperatorRecord.acknowledgement(id: active.id, device: DeviceID("pump-7")!, by: "alice", ts: start + 500)
            _ = try await producer.send(
                KafkaProducerRecord(topic: environment.topics.operatorActions, key: "pump-7", value: ack.encoded()))
            try await waitUntil(20, "acknowledged") { collected.alerts(device: "pump-7").contains { $0.state == .acknowledged } }
            // An acknowledgement of an unknown id changes nothing.
            let unknown = OperatorRecord.acknowledgement(id: "0000000000000000", device: DeviceID("pump-7")!, by: "bob", ts: start + 600)
            _ = try await producer.send(
                KafkaProducerRecord(topic: environment.topics.operatorActions, key: "pump-7", value: unknown.encoded()))
            try await Task.sleep(for: .milliseconds(500))
        }
        let alerts = collected.alerts(device: "pump-7")
        let acknowledged = try #require(alerts.first { $0.state == .acknowledged })
        #expect(acknowledged.id == alerts[0].id)
        #expect(acknowledged.ackedBy == "alice")
        #expect(alerts.filter { $0.state == .acknowledged }.count == 1)
        #expect(transitionsAreConsistent(alerts))
    }

    /// A device that falls silent: its open window closes by the wall clock and the offline rule
    /// fires, with the id derived from its last arrival.
    @Test func silentDeviceClosesAndGoesOffline() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        // Event time = now: the window is still open by event time when the reading arrives.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let (producer, windowing) = try environment.makeWindowing()
        let collected = try environment.makeCollector()
        try await whileRunning([producer, collected, windowing], logger: testLogger) {
            try await environment.produce([reading("silent-1", ts: now, seq: 1, temperature: 21)], with: producer)
            try await waitUntil(40, "offline alert") {
                collected.alerts(device: "silent-1").contains { $0.rule == "silent" && $0.state == .active }
            }
            try await waitUntil(30, "window closed by the wall clock") { !collected.finalWindows(device: "silent-1").isEmpty }
        }
        let window = try #require(collected.finalWindows(device: "silent-1").values.first)
        #expect(window.count == 1)
        #expect(window.start == now / 10_000 * 10_000)
        let offline = try #require(collected.alerts(device: "silent-1").first { $0.rule == "silent" })
        #expect(offline.metric == nil)
        #expect(offline.severity == .warning)
    }

    /// Stop the stage mid-stream (a window open, an alert active), produce more, start a new
    /// instance in the same group: no window lost (the open window holds readings from both
    /// halves), the alert clears under the same id, and nothing contradicts.
    @Test func restartMidStream() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let start = alignedStart(windowsBack: 6)
        @Sendable func temperature(_ index: Int) -> Double {
            switch index {
            case 14...17: 32.0 + Double(index - 14)  // active from 14, cleared at 18
            default: 20.0 + Double(index % 5) * 0.25
            }
        }
        let devices = ["r-1", "r-2", "r-3", "r-4"]
        @Sendable func readings(_ range: Range<Int>) -> [Reading] {
            devices.flatMap { device in
                range.map { reading(device, ts: start + Int64($0) * 1000, seq: UInt64($0), temperature: temperature($0)) }
            }
        }
        let collected = try environment.makeCollector()
        let feeder = try environment.makeProducer()
        try await whileRunning([feeder, collected], logger: testLogger) {
            let (producerA, windowingA) = try environment.makeWindowing()
            try await whileRunning([producerA, windowingA], logger: testLogger) {
                try await environment.produce(readings(0..<16), with: feeder)
                try await waitUntil(60, "first windows and active alerts") {
                    devices.allSatisfy { device in
                        collected.finalWindows(device: device).count >= 1 && !collected.alerts(device: device).isEmpty
                    }
                }
                try await waitUntil(10, "all 16 readings applied") { windowingA.applied >= 16 * devices.count }
            }
            try await environment.produce(readings(16..<30), with: feeder)
            let assignedB = Mutex(false)
        let (producerB, windowingB) = try environment.makeWindowing(onReady: { assignedB.withLock { $0 = true } })
            try await whileRunning([producerB, windowingB], logger: testLogger) {
                try await waitUntil(60, "all final windows after the restart") {
                    devices.allSatisfy { collected.finalWindows(device: $0).count >= 3 }
                }
                try await waitUntil(10, "cleared alerts") {
                    devices.allSatisfy { device in collected.alerts(device: device).contains { $0.state == .cleared } }
                }
                // B restored A's snapshots: it applied only what A had not (no full replay).
                #expect(windowingB.applied == 14 * devices.count)
            }
        }
        for device in devices {
            let expected = naiveWindows(readings(0..<30).filter { $0.device.rawValue == device })
            let windows = collected.finalWindows(device: device)
            #expect(Set(windows.keys) == Set(expected.keys), "\(device)")
            for (key, naive) in expected {
                let stats = try #require(windows[key])
                #expect(naive.matches(stats), "\(key): \(stats) vs \(naive)")
            }
            // Duplicates allowed (same key, same content), never different finals for one key.
            let finals = collected.stats.filter { $0.final && $0.device.rawValue == device }
            for (key, stats) in Dictionary(grouping: finals, by: \.key) {
                #expect(Set(stats.map(\.count)).count == 1, "\(key) has differing finals: \(stats.map(\.count))")
            }
            let alerts = collected.alerts(device: device).filter { $0.rule == "overheating" }
            #expect(Set(alerts.map(\.id)).count == 1, "\(device): \(alerts)")
            #expect(transitionsAreConsistent(alerts), "\(device): \(alerts.map(\.state))")
            #expect(alerts.first { $0.state == .cleared }?.ts == start + 18_000)
        }
    }
}

/// A second instance joins the group mid-stream: partitions move with their state.
@Suite("WindowingService rebalance", .serialized, .timeLimit(.minutes(3)))
struct WindowingRebalanceTests {
    @Test func secondInstanceJoinsMidStream() async throws {
        let environment = try WindowingEnvironment()
        defer { environment.cluster.shutdown() }
        let start = alignedStart(windowsBack: 6)
        @Sendable func temperature(_ index: Int) -> Double {
            (14...17).contains(index) ? 34.0 : 20.0 + Double(index % 3) * 0.5
        }
        // Enough devices that both partitions hold some.
        let devices = (1...8).map { "m-\($0)" }
        @Sendable func readings(_ range: Range<Int>) -> [Reading] {
            devices.flatMap { device in
                range.map { reading(device, ts: start + Int64($0) * 1000, seq: UInt64($0), temperature: temperature($0)) }
            }
        }
        let collected = try environment.makeCollector()
        let feeder = try environment.makeProducer()
        let (producerA, windowingA) = try environment.makeWindowing()
        let assignedB = Mutex(false)
        let (producerB, windowingB) = try environment.makeWindowing(onReady: { assignedB.withLock { $0 = true } })
        try await whileRunning([feeder, collected, producerA, windowingA], logger: testLogger) {
            try await environment.produce(readings(0..<16), with: feeder)
            try await waitUntil(60, "first windows and active alerts") {
                devices.allSatisfy { device in
                    collected.finalWindows(device: device).count >= 1 && !collected.alerts(device: device).isEmpty
                }
            }
            try await whileRunning([producerB, windowingB], logger: testLogger) {
                try await environment.produce(readings(16..<20), with: feeder)
                try await waitUntil(60, "B got partitions") { assignedB.withLock { $0 } }
                try await environment.produce(readings(20..<30), with: feeder)
                try await waitUntil(60, "all final windows") {
                    devices.allSatisfy { collected.finalWindows(device: $0).count >= 3 }
                }
                try await waitUntil(10, "cleared alerts") {
                    devices.allSatisfy { device in collected.alerts(device: device).contains { $0.state == .cleared } }
                }
            }
        }
        #expect(windowingB.applied > 0)
        for device in devices {
            let expected = naiveWindows(readings(0..<30).filter { $0.device.rawValue == device })
            let windows = collected.finalWindows(device: device)
            #expect(Set(windows.keys) == Set(expected.keys), "\(device)")
            for (key, naive) in expected {
                let stats = try #require(windows[key])
                #expect(naive.matches(stats), "\(key): \(stats) vs \(naive)")
            }
            let alerts = collected.alerts(device: device).filter { $0.rule == "overheating" }
            #expect(Set(alerts.map(\.id)).count == 1, "\(device): \(alerts)")
            #expect(transitionsAreConsistent(alerts), "\(device): \(alerts.map(\.state))")
        }
    }
}
