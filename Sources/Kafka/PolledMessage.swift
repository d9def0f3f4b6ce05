import CRdKafka

/// A message polled from librdkafka and not yet copied. Whoever holds it owns it and must call
/// either ``toRecord()`` or ``destroy()`` exactly once, before the client handle is destroyed
/// (holders keep the ``RDKafkaHandle`` alive for that).
///
/// Copying happens on the reading task's thread, not the poll thread, so each record's bytes
/// are allocated and usually freed by the same thread.
@usableFromInline
struct PolledMessage: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<rd_kafka_message_t>
    let topicPartition: KafkaTopicPartition

    func destroy() {
        rd_kafka_message_destroy(pointer)
    }

    /// Copies the message into a record (key, value, headers, timestamp) and destroys it.
    func toRecord() -> KafkaConsumerRecord {
        defer { rd_kafka_message_destroy(pointer) }
        let m = pointer.pointee
        let key = m.key.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let value = m.payload.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? []
        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(pointer, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = headerValue.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(key: name.map { String(cString: $0) } ?? "", value: bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        return KafkaConsumerRecord(
            topic: topicPartition.topic,
            partition: topicPartition.partition,
            offset: m.offset,
            key: key,
            value: value,
            headers: headers,
            timestamp: timestamp >= 0 ? timestamp : nil
        )
    }
}
