import Kafka
import Testing

@testable import FluxgateCLI

/// The pure parts of `fluxgate deadletter`: reading a record's headers, selections, what can be
/// replayed.
@Suite struct DeadLetterSelectionTests {
    static let now: Int64 = 1_764_400_000_000

    static func record(
        partition: Int = 0, offset: Int64 = 0, key: String? = "dev-1", timestamp: Int64? = now, headers: [(String, String)]
    ) -> KafkaConsumerRecord {
        KafkaConsumerRecord(
            topic: "fluxgate.deadletter", partition: partition, offset: offset, key: key.map { Array($0.utf8) },
            value: Array("{bad".utf8), headers: headers.map { KafkaHeader(key: $0.0, string: $0.1) }, timestamp: timestamp)
    }

    static let ingressHeaders = [
        ("fluxgate-error", "invalid-json"), ("fluxgate-error-message", "unexpected end"),
        ("fluxgate-mqtt-topic", "devices/dev-1/telemetry"), ("fluxgate-received-at", "1764399999000"),
    ]

    @Test func ingressDeadLetterIsReadAndReplayable() {
        let entry = DeadLetterEntry(Self.record(headers: Self.ingressHeaders))
        #expect(entry.reason == "invalid-json" && entry.message == "unexpected end" && entry.device == "dev-1")
        #expect(entry.mqttTopic == "devices/dev-1/telemetry" && entry.time == Self.now && entry.notReplayable == nil)
        #expect(entry.source == "devices/dev-1/telemetry")
        // Without a Kafka timestamp the receive time stands in.
        #expect(DeadLetterEntry(Self.record(timestamp: nil, headers: Self.ingressHeaders)).time == 1_764_399_999_000)
    }

    @Test func truncatedAndWindowingDeadLettersAreNotReplayable() {
        let cut = DeadLetterEntry(Self.record(headers: Self.ingressHeaders + [("fluxgate-original-size", "900000")]))
        #expect(cut.originalSize == 900_000 && cut.notReplayable?.contains("cut to 4 of 900000 bytes") == true)
        // The windowing stage keeps the reading's headers and appends its own: the last wins.
        let late = DeadLetterEntry(
            Self.record(headers: [("fluxgate-received-at", "1"), ("fluxgate-error", "late-reading"), ("fluxgate-kafka-topic", "fluxgate.readings")]))
        #expect(late.reason == "late-reading" && late.source == "kafka:fluxgate.readings")
        #expect(late.notReplayable?.contains("did not come from MQTT (the windowing stage rejected it from fluxgate.readings)") == true)
        #expect(DeadLetterEntry(Self.record(headers: [])).reason == "unknown")
    }

    @Test func selectionMatchesEveryCriterion() throws {
        let entry = DeadLetterEntry(Self.record(partition: 1, offset: 42, headers: Self.ingressHeaders))
        func matches(reasons: [String] = [], devices: [String] = [], topics: [String] = [], since: String? = nil, until: String? = nil, offsets: [String] = []) throws -> Bool {
            try DeadLetterSelection.parse(reasons: reasons, devices: devices, topics: topics, since: since, until: until, offsets: offsets, now: Self.now)
                .matches(entry)
        }
        #expect(try matches())
        #expect(try matches(reasons: ["bad-metric,invalid-json"]) && !matches(reasons: ["bad-metric"]))
        #expect(try matches(devices: ["dev-?"]) && !matches(devices: ["other-*"]))
        #expect(try matches(topics: ["devices/*/telemetry"]) && !matches(topics: ["devices/*/status"]))
        #expect(try matches(since: "1h") && !matches(since: "2025-12-01T00:00:00Z"))
        #expect(try matches(until: String(Self.now + 1)) && !matches(until: String(Self.now)))
        #expect(try matches(offsets: ["0:1", "1:40-50"]) && !matches(offsets: ["1:43-50"]))
        #expect(try !matches(reasons: ["invalid-json"], devices: ["other"]))
        #expect(try DeadLetterSelection.parse(reasons: [], devices: [], topics: [], since: nil, until: nil, offsets: ["3:1,5:2-9"], now: 0).partitions == [3, 5])
    }

    @Test func relativeAndAbsoluteTimes() throws {
        #expect(try DeadLetterSelection.time("90m", flag: "--since", now: Self.now) == Self.now - 5_400_000)
        #expect(try DeadLetterSelection.time("250ms", flag: "--since", now: Self.now) == Self.now - 250)
        #expect(try DeadLetterSelection.time("2025-11-29T07:06:40Z", flag: "--since", now: 0) == 1_764_400_000_000)
        #expect(try DeadLetterSelection.time("1764400000000", flag: "--since", now: 0) == 1_764_400_000_000)
        #expect(throws: DeadLetterError.self) { try DeadLetterSelection.time("-5", flag: "--since", now: 0) }
    }

    @Test(arguments: ["", "1", "a:1", "1:", "-1:3", "1:5-", "1:5-4", "1:2-3-4", "1:x"])
    func badOffsets(_ text: String) {
        #expect(throws: DeadLetterError.self) { try DeadLetterSelection.offsetRange(text) }
    }

    @Test func offsetRanges() throws {
        #expect(try DeadLetterSelection.offsetRange("2:7") == .init(partition: 2, first: 7, last: 7))
        #expect(try DeadLetterSelection.offsetRange("0:10-19") == .init(partition: 0, first: 10, last: 19))
    }

    @Test func replayPlanKeepsOneMoreThanTheLimit() {
        var plan = DeadLetterReplayPlan()
        for offset in 0..<10 {
            plan.add(DeadLetterEntry(Self.record(offset: Int64(offset), headers: Self.ingressHeaders)), keepAtMost: 3)
        }
        plan.add(DeadLetterEntry(Self.record(headers: [("fluxgate-error", "late-reading")])), keepAtMost: 3)
        #expect(plan.matched == 11 && plan.replayableCount == 10 && plan.replayable.count == 4 && plan.skipped.count == 1)
    }

    @Test func tablesShowControlCharactersAsQuestionMarks() {
        let text = DeadLetterOutput.table(["A", "B"], [["x\u{1B}[2J", "1"]])
        #expect(text == "A      B\nx?[2J  1\n")
        #expect(DeadLetterOutput.table(["A", "B"], [["x", ""]]) == "A  B\nx\n")
    }
}
