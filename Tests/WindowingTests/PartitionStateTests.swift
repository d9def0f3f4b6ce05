import Foundation
import Kafka
import Testing
import Telemetry
@testable import Windowing

/// Snapshots as changelog records: a partition restored from them goes on exactly like the
/// original; only changed devices are written; a snapshot torn between its device records and its
/// partition record still restores without double-counting.
@Suite("PartitionState")
struct PartitionStateTests {
    static let base: Int64 = 1_764_400_000_000

    static func record(_ offset: Int64, _ device: String, ts: Int64, temperature: Double) -> KafkaConsumerRecord {
        KafkaConsumerRecord(
            topic: "wt.readings", partition: 3, offset: offset, key: Array(device.utf8),
            value: ReadingRecord.encode(reading(device, ts: ts, seq: UInt64(offset), temperature: temperature)),
            headers: [KafkaHeader(key: ReadingRecord.receivedAtHeader, string: String(ts))])
    }

    /// Record `index` of a stream over two devices (one of them silent-matching).
    static func streamRecord(_ index: Int) -> KafkaConsumerRecord {
        record(
            Int64(index), "silent-\(index % 2)", ts: base + Int64(index) * 1000,
            temperature: index == 30 ? 20 : 25 + Double(index % 9))
    }

    static func fresh() throws -> PartitionProcessor {
        let configuration = try TelemetryConfiguration.parse(yaml: testRulesYAML)
        return PartitionProcessor(state: PartitionState(topic: "wt.readings", partition: 3, configuration: configuration), now: .now)
    }

    /// What the changelog holds after `snapshots` (later records win, empty values delete).
    static func stored(_ snapshots: [PartitionProcessor.Snapshot]) -> StoredPartition {
        var stored = StoredPartition()
        for snapshot in snapshots {
            for (key, value) in snapshot.devices {
                guard case .device(_, _, let device) = StateRecords.parse(key) else { continue }
                stored.devices[device] = value
            }
            stored.partition = snapshot.partition
        }
        return stored
    }

    static func restore(_ stored: StoredPartition) throws -> PartitionProcessor {
        let restored = PartitionProcessor.restore(
            topic: "wt.readings", partition: 3, stored: stored, configuration: try TelemetryConfiguration.parse(yaml: testRulesYAML),
            now: .now, wallClock: 0)
        #expect(restored.outputs.isEmpty)
        #expect(restored.unreadable.isEmpty)
        return restored.processor
    }

    @Test func restoredStateContinuesIdentically() throws {
        var processor = try Self.fresh()
        for index in 0..<15 {
            #expect(processor.admission(of: Int64(index)) == .apply)
            #expect(processor.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) != nil)
        }
        let snapshot = processor.takeSnapshot(now: .now, full: false)
        #expect(snapshot.devices.count == 2)
        #expect(snapshot.coveredThrough == 14)
        var restored = try Self.restore(Self.stored([snapshot]))
        #expect(restored.state.nextOffset == 15)
        #expect(restored.state.maxArrivedAt == Self.base + 14_000)
        #expect(restored.admission(of: 3) == .duplicate)
        #expect(restored.admission(of: 17) == .gap(15))
        for index in 15..<40 {
            let record = Self.streamRecord(index)
            let left = processor.apply(record, arrivedAt: Self.base + Int64(index) * 1000)
            let right = restored.apply(record, arrivedAt: Self.base + Int64(index) * 1000)
            #expect(describe(left) == describe(right))
        }
        #expect(!describe(processor.advance(now: .now + .seconds(60))).isEmpty)
    }

    /// Only devices that changed since the last snapshot are written; a full snapshot writes all.
    @Test func onlyChangedDevicesAreWritten() throws {
        var processor = try Self.fresh()
        for index in 0..<10 { _ = processor.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) }
        #expect(processor.takeSnapshot(now: .now, full: false).devices.count == 2)
        #expect(!processor.dirty)
        _ = processor.apply(Self.streamRecord(10), arrivedAt: Self.base + 10_000)
        let incremental = processor.takeSnapshot(now: .now, full: false)
        #expect(incremental.devices.map(\.key) == ["wt.readings/3/silent-0"])
        #expect(incremental.coveredThrough == 10)
        #expect(processor.takeSnapshot(now: .now, full: false).devices.isEmpty)
        #expect(processor.takeSnapshot(now: .now, full: true).devices.count == 2)
    }

    /// Live updates: at most one per device and interval, the first at the tick after a reading
    /// that follows a quiet interval; each device keeps its own rhythm (no fleet-wide burst).
    @Test func liveUpdatesFollowEachDevicesOwnThrottle() throws {
        var processor = try Self.fresh()
        let interval = Duration.seconds(5)
        let t0 = ContinuousClock.now
        func devices(_ outputs: [WindowingOutput]) -> Set<String> {
            Set(outputs.compactMap { if case .stats(let stats) = $0 { stats.device.rawValue } else { nil } })
        }
        func feed(_ device: String, _ offset: Int64) {
            _ = processor.apply(
                Self.record(offset, device, ts: Self.base + offset * 100, temperature: 20), arrivedAt: Self.base + offset * 100)
        }
        feed("a", 0)
        feed("b", 1)
        #expect(devices(processor.dueOpenStatistics(now: t0, interval: interval)) == ["a", "b"])
        feed("a", 2)
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(1), interval: interval)).isEmpty)
        feed("c", 3)  // a new device: its first update does not wait for the others' rhythm
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(2), interval: interval)) == ["c"])
        // a had readings since its update, b had none.
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(5), interval: interval)) == ["a"])
        feed("b", 4)  // b's throttle expired while it was quiet: its update comes at the next tick
        feed("c", 5)  // c's does not before t0 + 7 s
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(6), interval: interval)) == ["b"])
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(7), interval: interval)) == ["c"])
        #expect(devices(processor.dueOpenStatistics(now: t0 + .seconds(30), interval: interval)).isEmpty)
    }

    /// A crash after some device records of a snapshot but before its partition record: the
    /// restored partition replays from the older partition record; readings a device's record
    /// already holds are skipped for that device only. The end state equals the original's.
    @Test func tornSnapshotRestoresWithoutDoubleCounting() throws {
        var processor = try Self.fresh()
        for index in 0..<10 { _ = processor.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) }
        let first = processor.takeSnapshot(now: .now, full: false)
        for index in 10..<20 { _ = processor.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) }
        var second = processor.takeSnapshot(now: .now, full: false)
        #expect(second.devices.count == 2)
        // Only silent-1's record of the second snapshot landed.
        second.devices.removeAll { $0.key.hasSuffix("silent-0") }
        var stored = Self.stored([first])
        for (key, value) in second.devices {
            guard case .device(_, _, let device) = StateRecords.parse(key) else { continue }
            stored.devices[device] = value
        }
        var restored = try Self.restore(stored)
        #expect(restored.state.nextOffset == 10)
        var skipped = 0
        for index in 10..<20 {
            guard restored.admission(of: Int64(index)) == .apply else { continue }
            if restored.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) == nil { skipped += 1 }
        }
        #expect(skipped == 5)  // silent-1's readings 11, 13, ..., 19
        for index in 20..<40 {
            let record = Self.streamRecord(index)
            #expect(
                describe(processor.apply(record, arrivedAt: Self.base + Int64(index) * 1000))
                    == describe(restored.apply(record, arrivedAt: Self.base + Int64(index) * 1000)))
        }
        for device in ["silent-0", "silent-1"].map({ DeviceID($0)! }) {
            #expect(
                processor.state.deviceRecord(device, appliedThrough: 0)
                    == restored.state.deviceRecord(device, appliedThrough: 0))
        }
    }

    /// Unreadable records (another format, corrupt bytes) are reported and start empty.
    @Test func unreadableRecordsStartEmpty() throws {
        var processor = try Self.fresh()
        for index in 0..<4 { _ = processor.apply(Self.streamRecord(index), arrivedAt: Self.base + Int64(index) * 1000) }
        var stored = Self.stored([processor.takeSnapshot(now: .now, full: false)])
        stored.devices[DeviceID("silent-1")!]?.removeLast()
        stored.partition = Array(#"{"version":1,"topic":"wt.readings"}"#.utf8)
        let restored = PartitionProcessor.restore(
            topic: "wt.readings", partition: 3, stored: stored, configuration: try TelemetryConfiguration.parse(yaml: testRulesYAML),
            now: .now, wallClock: 0)
        #expect(restored.unreadable.count == 2)
        #expect(restored.processor.state.nextOffset == nil)
        #expect(restored.processor.state.aggregator.devices.keys.map(\.rawValue) == ["silent-0"])
    }

    @Test func keys() throws {
        #expect(StateRecords.parse("fluxgate.readings/12") == .partition(topic: "fluxgate.readings", partition: 12))
        #expect(
            StateRecords.parse("fluxgate.readings/0/dev-1")
                == .device(topic: "fluxgate.readings", partition: 0, device: DeviceID("dev-1")!))
        for bad in ["", "t", "t/x", "t/-1", "/1", "t/1/bad id", "t/1/d/e", "t/1/"] { #expect(StateRecords.parse(bad) == nil) }
        #expect(
            try PartitionRecord.decode(PartitionRecord(nextOffset: 42, maxArrivedAt: nil).encoded())
                == PartitionRecord(nextOffset: 42, maxArrivedAt: nil))
    }

    func describe(_ outputs: [WindowingOutput]?) -> [String] {
        guard let outputs else { return ["duplicate"] }
        return outputs.map {
            switch $0 {
            case .stats(let stats): String(decoding: stats.encoded(), as: UTF8.self)
            case .alert(let alert): String(decoding: alert.encoded(), as: UTF8.self)
            case .deadLetter(let original, let reason): "\(original.offset) \(reason)"
            }
        }
    }
}

extension PartitionStateTests {
    /// The size of the state records under the standard configuration: 10 devices, 4 metrics, one
    /// reading per second for 5 minutes (printed; bounded loosely so a blow-up fails).
    @Test func recordSizeUnderStandardConfiguration() throws {
        let configuration = TelemetryConfiguration.standard
        var processor = PartitionProcessor(state: PartitionState(topic: "t", partition: 0, configuration: configuration), now: .now)
        var offset: Int64 = 0
        for second in 0..<300 {
            for device in 0..<10 {
                let ts = Self.base + Int64(second) * 1000
                let reading = Reading(
                    device: DeviceID("dev-\(device)")!, ts: ts, seq: UInt64(second),
                    metrics: [
                        Metric("temperature", 20 + Double((second * 7 + device) % 50) / 10),
                        Metric("humidity", 50 + Double(second % 13)),
                        Metric("pressure", 1000 + Double(second % 17) / 3),
                        Metric("vibration_rms", Double(second % 11) / 4),
                    ])
                let record = KafkaConsumerRecord(topic: "t", partition: 0, offset: offset, key: nil, value: ReadingRecord.encode(reading))
                _ = processor.apply(record, arrivedAt: ts)
                offset += 1
            }
        }
        let snapshot = processor.takeSnapshot(now: .now, full: true)
        let bytes = snapshot.devices.reduce(0) { $0 + ($1.value?.count ?? 0) }
        print("state records: \(bytes) bytes for 10 devices x 4 metrics, standard windows, after 5 min (+ partition record \(snapshot.partition.count))")
        #expect(snapshot.devices.count == 10)
        #expect(bytes < 100_000)
        let restored = PartitionProcessor.restore(
            topic: "t", partition: 0, stored: Self.stored([snapshot]), configuration: configuration, now: .now, wallClock: 0)
        #expect(restored.unreadable.isEmpty)
        #expect(restored.processor.state.aggregator.devices == processor.state.aggregator.devices)
    }
}
