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
