import Foundation
import Ingress
import Kafka
import Telemetry

/// One record of the dead-letter topic, read back with the headers the stages write.
///
/// The ingress writes the original MQTT payload (cut to its `maxDeadLetterBytes`), key = the
/// device id when the topic had a valid one, and the headers `fluxgate-error` (reason code),
/// `fluxgate-error-message`, `fluxgate-mqtt-topic`, `fluxgate-received-at` and, when the
/// payload was cut, `fluxgate-original-size`. The windowing stage writes the normalized record
/// it rejected with its original headers plus `fluxgate-error` and `fluxgate-kafka-topic`.
struct DeadLetterEntry: Sendable, Hashable {
    /// The Kafka header naming the topic a windowing dead letter was read from.
    static let kafkaTopicHeader = "fluxgate-kafka-topic"

    var partition: Int
    var offset: Int64
    /// When the record was dead-lettered (its Kafka timestamp), else when the ingress received
    /// it (`fluxgate-received-at`); epoch milliseconds.
    var time: Int64?
    /// The reason code (`fluxgate-error`), `unknown` when the header is missing.
    var reason: String
    var message: String?
    /// The device id (the record key), if the input had a valid one.
    var device: String?
    /// The MQTT topic the input arrived on (ingress dead letters).
    var mqttTopic: String?
    /// The Kafka topic the input was read from (windowing dead letters).
    var kafkaTopic: String?
    var payload: [UInt8]
    /// The payload's size before the ingress cut it, when it did.
    var originalSize: Int?

    init(_ record: KafkaConsumerRecord) {
        func header(_ key: String) -> String? {
            // The last one wins: the windowing stage appends its own to the original headers.
            record.headers.last(where: { $0.key == key }).map { String(decoding: $0.value, as: UTF8.self) }
        }
        partition = record.partition
        offset = record.offset
        time = record.timestamp ?? header(ReadingRecord.receivedAtHeader).flatMap { Int64($0) }
        reason = header(IngressRouting.errorHeader) ?? "unknown"
        message = header(IngressRouting.errorMessageHeader)
        device = record.key.map { String(decoding: $0, as: UTF8.self) }
        mqttTopic = header(IngressRouting.mqttTopicHeader)
        kafkaTopic = header(Self.kafkaTopicHeader)
        payload = record.value
        originalSize = header(IngressRouting.originalSizeHeader).flatMap { Int($0) }
    }

    /// Why this dead letter cannot be re-published to MQTT; `nil` when it can.
    var notReplayable: String? {
        if let originalSize {
            return "its payload was cut to \(payload.count) of \(originalSize) bytes when it was dead-lettered; the original is lost"
        }
        guard let mqttTopic, !mqttTopic.isEmpty else {
            let source = kafkaTopic.map { " (the windowing stage rejected it from \($0))" } ?? ""
            return "it did not come from MQTT\(source): there is no MQTT topic to re-publish it to"
        }
        if mqttTopic.contains("+") || mqttTopic.contains("#") {
            return "its MQTT topic '\(mqttTopic)' contains a wildcard"
        }
        return nil
    }

    /// The MQTT topic or, for windowing dead letters, `kafka:<topic>`.
    var source: String { mqttTopic ?? kafkaTopic.map { "kafka:\($0)" } ?? "-" }

    /// The time as RFC 3339 (UTC), `-` when unknown.
    var timeText: String { time.map { RFC3339.format($0) } ?? "-" }
}
