import Kafka
import Telemetry
import Testing

@testable import Ingress

@Suite struct IngressRoutingTests {
    let routing = IngressRouting(topics: FluxgateTopics(prefix: "t."), maxDeadLetterBytes: 100)

    func header(_ record: KafkaProducerRecord, _ key: String) -> String? {
        record.headers.first { $0.key == key }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test func validReadingBecomesNormalizedRecordKeyedByDevice() throws {
        let payload = Array(#"{"metrics":{"temperature":21.5},"seq":3,"ts":"2025-11-29T07:06:40Z"}"#.utf8)
        let (record, outcome) = routing.route(topic: "devices/gh-1/telemetry", payload: payload, receivedAt: 42)
        #expect(outcome == .reading)
        #expect(record.topic == "t.readings")
        #expect(record.key == Array("gh-1".utf8))
        #expect(header(record, "fluxgate-received-at") == "42")
        let reading = try ReadingRecord.decode(record.value)
        #expect(reading.device.rawValue == "gh-1")
        #expect(reading.ts == 1_764_400_000_000)
        #expect(reading.seq == 3)
        #expect(reading.value(of: "temperature") == 21.5)
    }

    @Test func statusBecomesStatusRecord() {
        let (record, outcome) = routing.route(topic: "devices/gh-1/status", payload: Array("offline".utf8), receivedAt: 7)
        #expect(outcome == .status)
        #expect(record.topic == "t.status")
        #expect(record.key == Array("gh-1".utf8))
        #expect(String(decoding: record.value, as: UTF8.self) == #"{"device":"gh-1","status":"offline","ts":7}"#)
    }

    @Test(arguments: [
        ("devices/gh-1/telemetry", "not json", RejectionReason.invalidJSON, "gh-1"),
        ("devices/gh-1/telemetry", #"{"metrics":{"t":1}}"#, .missingTimestamp, "gh-1"),
        ("devices/gh-1/telemetry", #"{"ts":1,"metrics":{"t":"hot"}}"#, .badMetric, "gh-1"),
        ("devices/bad id/telemetry", #"{"ts":1,"metrics":{"t":1}}"#, .badDeviceID, nil),
        ("sensors/gh-1/telemetry", #"{"ts":1,"metrics":{"t":1}}"#, .badTopic, nil),
        ("devices/gh-1/status", "maybe", .badStatus, "gh-1"),
    ] as [(String, String, RejectionReason, String?)])
    func rejectedInputBecomesDeadLetterWithReason(topic: String, payload: String, reason: RejectionReason, key: String?) {
        let (record, outcome) = routing.route(topic: topic, payload: Array(payload.utf8), receivedAt: 1)
        #expect(outcome == .rejected(reason))
        #expect(record.topic == "t.deadletter")
        #expect(record.value == Array(payload.utf8), "the original bytes are kept")
        #expect(record.key == key.map { Array($0.utf8) })
        #expect(header(record, "fluxgate-error") == reason.rawValue)
        #expect(header(record, "fluxgate-mqtt-topic") == topic)
        #expect(header(record, "fluxgate-error-message")?.isEmpty == false)
        #expect(header(record, "fluxgate-original-size") == nil)
    }

    @Test func oversizedDeadLetterIsTruncatedWithOriginalSize() {
        let payload = [UInt8](repeating: 0xFF, count: 1000)
        let (record, outcome) = routing.route(topic: "devices/d/telemetry", payload: payload, receivedAt: 1)
        guard case .rejected = outcome else {
            Issue.record("expected a rejection, got \(outcome)")
            return
        }
        #expect(record.value.count == 100)
        #expect(header(record, "fluxgate-original-size") == "1000")
    }

    @Test func sharedSubscriptionFilters() {
        var configuration = IngressConfiguration()
        #expect(configuration.subscriptionFilters == [
            "$share/fluxgate-ingress/devices/+/telemetry", "$share/fluxgate-ingress/devices/+/status",
        ])
        configuration.sharedSubscriptionGroup = nil
        #expect(configuration.subscriptionFilters == ["devices/+/telemetry", "devices/+/status"])
    }
}
