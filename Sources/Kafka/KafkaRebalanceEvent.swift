/// A change of the partitions a consumer reads, in the order librdkafka reported them.
///
/// After `.revoked(p)` no record of `p` is handed out (buffered ones are dropped; they are
/// re-read by the next owner) until `p` is assigned again.
public enum KafkaRebalanceEvent: Sendable, Hashable {
    /// These partitions are now read by this consumer.
    case assigned([KafkaTopicPartition])
    /// These partitions are no longer read by this consumer.
    case revoked([KafkaTopicPartition])
}
