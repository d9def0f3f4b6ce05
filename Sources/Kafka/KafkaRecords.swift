/// A Kafka record header: a name and an opaque value.
public struct KafkaHeader: Sendable, Hashable {
    /// The header name, e.g. `fluxgate-received-at`.
    public var key: String
    /// The header value bytes.
    public var value: [UInt8]

    /// Creates a header.
    public init(key: String, value: [UInt8]) {
        self.key = key
        self.value = value
    }

    /// Creates a header with a UTF-8 string value.
    public init(key: String, string: String) {
        self.init(key: key, value: Array(string.utf8))
    }
}

/// A record to send to Kafka.
public struct KafkaProducerRecord: Sendable, Hashable {
    /// The topic to write to.
    public var topic: String
    /// The partition, or `nil` to let the partitioner choose (by key hash; records with the same
    /// key go to the same partition).
    public var partition: Int?
    /// The key (Fluxgate uses the device id), or `nil`.
    public var key: [UInt8]?
    /// The value bytes.
    public var value: [UInt8]
    /// Headers, in order; names may repeat.
    public var headers: [KafkaHeader]
    /// The record timestamp in epoch milliseconds, or `nil` for "now".
    public var timestamp: Int64?

    /// Creates a record.
    public init(
        topic: String,
        partition: Int? = nil,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: [KafkaHeader] = [],
        timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// Creates a record with a UTF-8 string key.
    public init(
        topic: String,
        partition: Int? = nil,
        key: String,
        value: [UInt8],
        headers: [KafkaHeader] = [],
        timestamp: Int64? = nil
    ) {
        self.init(
            topic: topic,
            partition: partition,
            key: Array(key.utf8),
            value: value,
            headers: headers,
            timestamp: timestamp
        )
    }
}

/// The broker's confirmation that a record is stored.
public struct KafkaDeliveryReport: Sendable, Hashable {
    /// The topic the record was written to.
    public var topic: String
    /// The partition the record was written to.
    public var partition: Int
    /// The record's offset in the partition.
    public var offset: Int64
    /// The record timestamp in epoch milliseconds, when known.
    public var timestamp: Int64?

    /// Creates a report.
    public init(topic: String, partition: Int, offset: Int64, timestamp: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }
}

/// A record read from Kafka. All bytes are copied out of librdkafka's buffers.
public struct KafkaConsumerRecord: Sendable, Hashable {
    /// The topic the record was read from.
    public var topic: String
    /// The partition the record was read from.
    public var partition: Int
    /// The record's offset in the partition.
    public var offset: Int64
    /// The key, or `nil`.
    public var key: [UInt8]?
    /// The value bytes (empty for a null value).
    public var value: [UInt8]
    /// Headers, in order.
    public var headers: [KafkaHeader]
    /// The record timestamp in epoch milliseconds, when the broker reported one.
    public var timestamp: Int64?

    /// Creates a record (useful in tests of code that consumes records).
    public init(
        topic: String,
        partition: Int,
        offset: Int64,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader] = [],
        timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    /// The topic and partition this record belongs to.
    public var topicPartition: KafkaTopicPartition {
        KafkaTopicPartition(topic: topic, partition: partition)
    }
}

/// A topic and partition.
public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The topic name.
    public var topic: String
    /// The partition number.
    public var partition: Int

    /// Creates a topic partition.
    public init(topic: String, partition: Int) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// Where a consumer starts reading a partition.
public enum KafkaOffset: Sendable, Hashable {
    /// The oldest record still held.
    case beginning
    /// After the newest record: only records written from now on.
    case end
    /// The group's committed offset (falling back to `autoOffsetReset`).
    case stored
    /// A specific offset.
    case offset(Int64)

    var rdKafkaValue: Int64 {
        switch self {
        case .beginning: return -2  // RD_KAFKA_OFFSET_BEGINNING
        case .end: return -1  // RD_KAFKA_OFFSET_END
        case .stored: return -1000  // RD_KAFKA_OFFSET_STORED
        case .offset(let offset): return offset
        }
    }
}

/// Low and high watermarks of a partition: `high` is the offset the next record will get, so a
/// partition holds `high - low` records.
public struct KafkaWatermarks: Sendable, Hashable {
    /// The oldest offset still held.
    public var low: Int64
    /// The offset of the next record to be written.
    public var high: Int64

    /// Creates watermarks.
    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}
