/// MQTT quality of service.
public enum MQTTQoS: UInt8, Sendable, Hashable, CaseIterable {
    /// QoS 0: fire and forget.
    case atMostOnce = 0
    /// QoS 1: acknowledged with PUBACK; may be delivered more than once.
    case atLeastOnce = 1
    /// QoS 2: four-way handshake (PUBREC/PUBREL/PUBCOMP).
    case exactlyOnce = 2
}

/// One incoming MQTT message. The topic and payload are copies owned by Swift.
public struct MQTTMessage: Sendable, Hashable {
    /// The topic the message was published to (never the subscription filter).
    public var topic: String
    /// The payload bytes.
    public var payload: [UInt8]
    /// The QoS the message was delivered with (the lower of published and subscribed QoS).
    public var qos: MQTTQoS
    /// Whether the broker delivered it as a retained message.
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }

    /// The payload decoded as UTF-8 (invalid bytes replaced).
    public var payloadString: String { String(decoding: payload, as: UTF8.self) }
}

/// Messages read from the broker together, acknowledged together.
///
/// With deferred acknowledgement (`MQTTConfiguration.Acknowledgement.deferred`, the default) the
/// client sends no acknowledgement — and nothing else — to the broker while a batch of the current
/// connection is unacknowledged: call `acknowledge()` once the messages are safe (e.g. stored in
/// Kafka). A batch that is never acknowledged is delivered again after a reconnect (QoS 1 and 2
/// with a persistent session). Acknowledging twice, or after the connection it came from has
/// dropped, does nothing.
public struct MQTTMessageBatch: Sendable, RandomAccessCollection {
    /// The messages, in the order the broker sent them.
    public let messages: [MQTTMessage]
    /// Unique within one client, increasing.
    public let id: UInt64
    /// When the client read the batch from the socket (the end of its read phase): the start of
    /// the messages' time in this process, including any wait in the client's buffer.
    public let receivedAt: ContinuousClock.Instant
    private let acknowledger: (any BatchAcknowledger)?

    init(messages: [MQTTMessage], id: UInt64, receivedAt: ContinuousClock.Instant = .now, acknowledger: (any BatchAcknowledger)?) {
        self.messages = messages
        self.id = id
        self.receivedAt = receivedAt
        self.acknowledger = acknowledger
    }

    /// Releases the acknowledgements of every message in this batch to the broker. Non-blocking;
    /// the acknowledgements leave with the client's next write. Idempotent.
    public func acknowledge() {
        acknowledger?.acknowledge(batch: id)
    }

    public var startIndex: Int { messages.startIndex }
    public var endIndex: Int { messages.endIndex }
    public subscript(position: Int) -> MQTTMessage { messages[position] }
}

/// Implemented by the client core; keeps `MQTTMessageBatch` a plain value.
protocol BatchAcknowledger: AnyObject, Sendable {
    func acknowledge(batch: UInt64)
}
