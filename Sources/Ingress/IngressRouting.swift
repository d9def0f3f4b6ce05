import Kafka
import Telemetry

/// Turns one MQTT message into the one Kafka record it becomes: a normalized reading, a device
/// status change, or a dead letter carrying the original bytes and the reason.
///
/// Pure and deterministic given its inputs (the receive time is passed in), so every routing
/// decision is unit-tested without a broker.
public struct IngressRouting: Sendable {
    /// The Kafka header with the rejection reason code on dead letters.
    public static let errorHeader = "fluxgate-error"
    /// The Kafka header with a human explanation of the rejection on dead letters.
    public static let errorMessageHeader = "fluxgate-error-message"
    /// The Kafka header with the MQTT topic the dead letter arrived on.
    public static let mqttTopicHeader = "fluxgate-mqtt-topic"
    /// The Kafka header with the original payload size when a dead letter was truncated.
    public static let originalSizeHeader = "fluxgate-original-size"

    public let topics: FluxgateTopics
    public let decoder: ReadingDecoder
    /// Dead letters keep at most this many bytes of the original payload (the rest is cut and
    /// the original size recorded), so an oversized MQTT message cannot exceed Kafka's record
    /// size limit and block the ingress.
    public let maxDeadLetterBytes: Int

    public init(topics: FluxgateTopics, limits: ReadingLimits = .standard, maxDeadLetterBytes: Int = 512 * 1024) {
        self.topics = topics
        self.decoder = ReadingDecoder(limits: limits)
        self.maxDeadLetterBytes = maxDeadLetterBytes
    }

    /// What a message became.
    public enum Outcome: Sendable, Equatable {
        case reading
        case status
        case rejected(RejectionReason)
    }

    /// The record for `payload` received on `topic` at `receivedAt` (epoch ms), and what it is.
    public func route(topic: String, payload: [UInt8], receivedAt: Int64) -> (record: KafkaProducerRecord, outcome: Outcome) {
        route(topic: topic, payload: payload, receivedAt: receivedAt, receivedHeaders: Self.receivedHeaders(receivedAt))
    }

    /// The headers of a reading or status record received at `receivedAt` (epoch ms): only
    /// `fluxgate-received-at`. Built once per batch and shared by its records.
    static func receivedHeaders(_ receivedAt: Int64) -> [KafkaHeader] {
        [KafkaHeader(key: ReadingRecord.receivedAtHeader, string: String(receivedAt))]
    }

    /// `route(topic:payload:receivedAt:)` with the headers from `receivedHeaders(_:)`.
    func route(
        topic: String,
        payload: [UInt8],
        receivedAt: Int64,
        receivedHeaders: [KafkaHeader]
    ) -> (record: KafkaProducerRecord, outcome: Outcome) {
        let parsed: TelemetryTopic
        do {
            parsed = try TelemetryTopic(parsing: topic)
        } catch {
            return deadLetter(topic: topic, payload: payload, device: nil, rejection: error, received: receivedHeaders)
        }
        switch parsed {
        case .telemetry(let device):
            do {
                let reading = try decoder.decode(payload, device: device)
                let record = KafkaProducerRecord(
                    topic: topics.readings,
                    key: device.rawValue,
                    value: ReadingRecord.encode(reading),
                    headers: receivedHeaders
                )
                return (record, .reading)
            } catch {
                return deadLetter(topic: topic, payload: payload, device: device, rejection: error, received: receivedHeaders)
            }
        case .status(let device):
            do {
                let status = try DeviceStatus(parsing: payload)
                let value = DeviceStatusRecord(device: device, status: status, ts: receivedAt).encoded()
                let record = KafkaProducerRecord(
                    topic: topics.deviceStatus,
                    key: device.rawValue,
                    value: value,
                    headers: receivedHeaders
                )
                return (record, .status)
            } catch {
                return deadLetter(topic: topic, payload: payload, device: device, rejection: error, received: receivedHeaders)
            }
        }
    }

    private func deadLetter(
        topic: String,
        payload: [UInt8],
        device: DeviceID?,
        rejection: ReadingRejection,
        received: [KafkaHeader]
    ) -> (record: KafkaProducerRecord, outcome: Outcome) {
        var headers = [
            KafkaHeader(key: Self.errorHeader, string: rejection.reason.rawValue),
            KafkaHeader(key: Self.errorMessageHeader, string: String(rejection.message.prefix(1024))),
            KafkaHeader(key: Self.mqttTopicHeader, value: Array(topic.utf8.prefix(1024))),
        ] + received
        var value = payload
        if payload.count > maxDeadLetterBytes {
            value = Array(payload.prefix(maxDeadLetterBytes))
            headers.append(KafkaHeader(key: Self.originalSizeHeader, string: String(payload.count)))
        }
        let record = KafkaProducerRecord(
            topic: topics.deadLetter,
            key: device.map { Array($0.rawValue.utf8) },
            value: value,
            headers: headers
        )
        return (record, .rejected(rejection.reason))
    }
}
