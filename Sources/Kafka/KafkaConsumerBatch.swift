import CRdKafka
import DequeModule

/// Records read together from librdkafka and handed over without copying their bytes.
///
/// The batch owns the librdkafka messages and frees them when it is released; read them with
/// ``forEach(_:)`` (zero-copy views valid inside the closure) or copy them with ``records``.
/// A batch is immutable, so it may be read from any task.
public final class KafkaConsumerBatch: @unchecked Sendable {
    private let messages: [PolledMessage]
    /// Keeps the client alive until the messages are destroyed.
    private let handle: RDKafkaHandle

    init(messages: Deque<PolledMessage>, handle: RDKafkaHandle) {
        self.messages = Array(messages)
        self.handle = handle
    }

    deinit {
        for message in messages {
            message.destroy()
        }
    }

    /// The number of records in the batch.
    public var count: Int { messages.count }

    /// Calls `body` with a view of each record, in the order read (per partition: offset order).
    /// The view's bytes are librdkafka's: do not let them escape the closure.
    public func forEach<Failure: Error>(_ body: (KafkaConsumerRecordView) throws(Failure) -> Void) throws(Failure) {
        for message in messages {
            try body(KafkaConsumerRecordView(message))
        }
    }

    /// Copies every record out of librdkafka's buffers.
    public var records: [KafkaConsumerRecord] {
        messages.map { KafkaConsumerRecordView($0).copy() }
    }

    /// The highest offset per partition in this batch: what ``KafkaConsumer/markDone(_:)`` stores for the batch.
    public var highestOffsets: [KafkaTopicPartition: Int64] {
        var highest: [KafkaTopicPartition: Int64] = [:]
        for message in messages {
            let offset = message.pointer.pointee.offset
            highest[message.topicPartition] = max(highest[message.topicPartition] ?? -1, offset)
        }
        return highest
    }
}

/// One record of a ``KafkaConsumerBatch``, read in place. Its byte buffers point into
/// librdkafka's memory and are valid only while the batch's `forEach` closure runs (so the view
/// is not `Sendable`, and must not be stored); use ``copy()`` to keep the record.
public struct KafkaConsumerRecordView {
    private let message: UnsafeMutablePointer<rd_kafka_message_t>
    /// The topic and partition the record was read from.
    public let topicPartition: KafkaTopicPartition

    init(_ polled: PolledMessage) {
        self.message = polled.pointer
        self.topicPartition = polled.topicPartition
    }

    /// The record's offset in the partition.
    public var offset: Int64 { message.pointee.offset }

    /// The key bytes, or `nil`.
    public var key: UnsafeRawBufferPointer? {
        message.pointee.key.map { UnsafeRawBufferPointer(start: $0, count: message.pointee.key_len) }
    }

    /// The value bytes (empty for a null value).
    public var value: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: message.pointee.payload, count: message.pointee.payload == nil ? 0 : message.pointee.len)
    }

    /// The record timestamp in epoch milliseconds, when the broker reported one.
    public var timestamp: Int64? {
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        return timestamp >= 0 ? timestamp : nil
    }

    /// The headers, copied, in order.
    public var headers: [KafkaHeader] {
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        guard rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList else {
            return headers
        }
        var index = 0
        var name: UnsafePointer<CChar>?
        var headerValue: UnsafeRawPointer?
        var size = 0
        while rd_kafka_header_get_all(headerList, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let bytes = headerValue.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes))
            index += 1
        }
        return headers
    }

    /// Copies the record (key, value, headers, timestamp) out of librdkafka's buffers.
    public func copy() -> KafkaConsumerRecord {
        KafkaConsumerRecord(
            topic: topicPartition.topic,
            partition: topicPartition.partition,
            offset: offset,
            key: key.map { [UInt8]($0) },
            value: [UInt8](value),
            headers: headers,
            timestamp: timestamp
        )
    }
}
