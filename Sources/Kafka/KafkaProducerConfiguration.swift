/// Configuration of a ``KafkaProducer``. Defaults favour durability: idempotent, `acks=all`.
public struct KafkaProducerConfiguration: Sendable {
    /// Which replicas must confirm a write before it is reported delivered.
    public enum Acks: String, Sendable {
        /// Every in-sync replica (`acks=all`). Required by idempotence.
        case all = "all"
        /// The partition leader only (`acks=1`).
        case leader = "1"
        /// No confirmation (`acks=0`): delivery reports only say the record left the client.
        case none = "0"
    }

    /// Compression of record batches on the wire and on the brokers.
    public enum Compression: String, Sendable {
        case none, gzip, snappy, lz4, zstd
    }

    /// Brokers to bootstrap from, `host:port` each. Default: `["localhost:9092"]`.
    public var bootstrapServers: [String]
    /// The client id the brokers see. Default: `fluxgate-producer`.
    public var clientID: String = "fluxgate-producer"
    /// Idempotent delivery (`enable.idempotence`): retries never duplicate or reorder records.
    /// Default: `true`.
    public var idempotence: Bool = true
    /// Default: `.all`.
    public var acks: Acks = .all
    /// Default: `.none`.
    public var compression: Compression = .none
    /// How long to wait for more records before sending a batch (`linger.ms`). Default: 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// Most records waiting in the client (`queue.buffering.max.messages`); more makes `send`
    /// wait for delivery reports (backpressure), never drop. Default: 100 000.
    public var maxQueuedRecords: Int = 100_000
    /// Most kilobytes waiting in the client (`queue.buffering.max.kbytes`). Default: 1 GiB.
    public var maxQueuedKilobytes: Int = 1_048_576
    /// How long a record may wait for delivery, retries included, before it fails with
    /// `rdkafka._MSG_TIMED_OUT` (`message.timeout.ms`; `.zero` waits forever). Default: 5 minutes,
    /// enough to ride out a broker outage of minutes.
    public var deliveryTimeout: Duration = .seconds(300)
    /// How long graceful shutdown waits for outstanding records. Default: 10 s; records still
    /// outstanding then fail with `rdkafka._PURGE_QUEUE` / `_PURGE_INFLIGHT`.
    public var flushTimeout: Duration = .seconds(10)
    /// Any other librdkafka property (CONFIGURATION.md), applied last so it wins. Default: empty.
    public var additionalProperties: [String: String] = [:]

    /// Creates a configuration.
    public init(bootstrapServers: [String] = ["localhost:9092"]) {
        self.bootstrapServers = bootstrapServers
    }

    /// The librdkafka properties this configuration stands for.
    var properties: [String: String] {
        var properties: [String: String] = [
            "bootstrap.servers": bootstrapServers.joined(separator: ","),
            "client.id": clientID,
            "enable.idempotence": idempotence ? "true" : "false",
            "acks": acks.rawValue,
            "compression.codec": compression.rawValue,
            "linger.ms": String(linger.milliseconds),
            "queue.buffering.max.messages": String(maxQueuedRecords),
            "queue.buffering.max.kbytes": String(maxQueuedKilobytes),
            "message.timeout.ms": String(deliveryTimeout.milliseconds),
            // Kafka clients in Java always set TCP_NODELAY; librdkafka leaves Nagle on unless asked.
            "socket.nagle.disable": "true",
        ]
        properties.merge(additionalProperties) { _, new in new }
        return properties
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, clamped to `Int32.max` (librdkafka's limit).
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let value = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int(max(0, min(value, Int64(Int32.max))))
    }
}
