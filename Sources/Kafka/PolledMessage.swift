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
        return KafkaConsumerRecordView(self).copy()
    }
}
