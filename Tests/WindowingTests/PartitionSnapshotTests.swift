import Foundation
import Kafka
import Testing
import Telemetry
@testable import Windowing

/// Snapshots round-trip through JSON, including the non-finite doubles the state holds, and the
/// restored state goes on exactly like the original.
@Suite("PartitionSnapshot")
struct PartitionSnapshotTests {
    @Test func roundTripContinuesIdentically() throws {
        let configuration = try TelemetryConfiguration.parse(yaml: testRulesYAML)
        var original = PartitionSnapshot(
            topic: "wt.readings", partition: 3, nextOffset: nil,
            aggregator: WindowAggregator(configuration: configuration.windowing),
            evaluator: AlertEvaluator(rules: configuration.rules))
        var processor = PartitionProcessor(snapshot: original, now: .now)
        func record(_ offset: Int64, _ device: String, ts: Int64, temperature: Double) -> KafkaConsumerRecord {
            KafkaConsumerRecord(
                topic: "wt.readings", partition: 3, offset: offset, key: Array(device.utf8),
                value: ReadingRecord.encode(reading(device, ts: ts, seq: UInt64(offset), temperature: temperature)),
                headers: [KafkaHeader(key: ReadingRecord.receivedAtHeader, string: String(ts))])
        }
        let base: Int64 = 1_764_400_000_000
        for index in 0..<15 {
            #expect(processor.admission(of: Int64(index)) == .apply)
            _ = processor.apply(record(Int64(index), "silent-\(index % 2)", ts: base + Int64(index) * 1000, temperature: 25 + Double(index)), arrivedAt: base + Int64(index) * 1000)
        }
        original = processor.snapshot
        let restored = try #require(PartitionSnapshot.decode(try original.encoded()))
        #expect(restored.nextOffset == 15)
        #expect(restored.maxArrivedAt == base + 14_000)
        var a = PartitionProcessor(snapshot: original, now: .now)
        var b = PartitionProcessor(snapshot: restored, now: .now)
        #expect(b.admission(of: 3) == .duplicate)
        #expect(b.admission(of: 17) == .gap(15))
        for index in 15..<40 {
            let r = record(Int64(index), "silent-\(index % 2)", ts: base + Int64(index) * 1000, temperature: index == 30 ? 20 : 25 + Double(index % 9))
            let left = a.apply(r, arrivedAt: base + Int64(index) * 1000)
            let right = b.apply(r, arrivedAt: base + Int64(index) * 1000)
            #expect(describe(left) == describe(right))
        }
        #expect(PartitionSnapshot.decode(Array("not json".utf8)) == nil)
    }

    func describe(_ outputs: [WindowingOutput]) -> [String] {
        outputs.map {
            switch $0 {
            case .stats(let stats): String(decoding: stats.encoded(), as: UTF8.self)
            case .alert(let alert): String(decoding: alert.encoded(), as: UTF8.self)
            case .deadLetter(let original, let reason): "\(original.offset) \(reason)"
            }
        }
    }
}

extension PartitionSnapshotTests {
    /// The size of a snapshot under the standard configuration: 10 devices, 4 metrics, one
    /// reading per second for 5 minutes (printed; bounded loosely so a blow-up fails).
    @Test func snapshotSizeUnderStandardConfiguration() throws {
        let configuration = TelemetryConfiguration.standard
        var processor = PartitionProcessor(
            snapshot: PartitionSnapshot(
                topic: "t", partition: 0, nextOffset: nil,
                aggregator: WindowAggregator(configuration: configuration.windowing),
                evaluator: AlertEvaluator(rules: configuration.rules)),
            now: .now)
        let base: Int64 = 1_764_400_000_000
        var offset: Int64 = 0
        for second in 0..<300 {
            for device in 0..<10 {
                let ts = base + Int64(second) * 1000
                let reading = Reading(
                    device: DeviceID("dev-\(device)")!, ts: ts, seq: UInt64(second),
                    metrics: [
                        Metric("temperature", 20 + Double((second * 7 + device) % 50) / 10),
                        Metric("humidity", 50 + Double(second % 13)),
                        Metric("pressure", 1000 + Double(second % 17) / 3),
                        Metric("vibration_rms", Double(second % 11) / 4),
                    ])
                let record = KafkaConsumerRecord(
                    topic: "t", partition: 0, offset: offset, key: nil, value: ReadingRecord.encode(reading))
                _ = processor.apply(record, arrivedAt: ts)
                offset += 1
            }
        }
        let bytes = try processor.snapshot.encoded()
        print("snapshot: \(bytes.count) bytes for 10 devices x 4 metrics, standard windows, after 5 min")
        #expect(bytes.count < 2_000_000)
        #expect(PartitionSnapshot.decode(bytes) != nil)
    }
}
