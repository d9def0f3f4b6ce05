import CRdKafka
import Foundation
import Logging

/// Finds the first offset of a partition whose record timestamp is at or after a timestamp by
/// binary search over the records themselves, for brokers that answer timestamp lookups
/// (ListOffsets by time) with "end" although they hold later records — the dev cluster (the
/// librdkafka mock) does. Assumes timestamps grow with offsets, which holds for broker
/// LogAppendTime and for producers that stamp records in order.
///
/// Blocking: call it on a dedicated thread.
struct TimestampLookup {
    let bootstrapServers: [String]
    let logger: Logger

    /// The offset, or `nil` when no record is at or after `timestamp` (the end).
    func offset(of partition: KafkaTopicPartition, atOrAfter timestamp: Int64) throws(KafkaError) -> Int64? {
        let handle = try RDKafkaHandle(
            type: RD_KAFKA_CONSUMER,
            properties: [
                "bootstrap.servers": bootstrapServers.joined(separator: ","),
                "group.id": "fluxgate-timestamp-lookup-\(UUID().uuidString)",
                "enable.auto.commit": "false",
                "fetch.wait.max.ms": "10",
                "client.id": "fluxgate-timestamp-lookup",
            ],
            context: RDKafkaContext(logger: logger)
        )
        var low: Int64 = -1
        var high: Int64 = -1
        let error = rd_kafka_query_watermark_offsets(
            handle.pointer, partition.topic, Int32(clamping: partition.partition), &low, &high, 10_000
        )
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdKafka: error, context: "Reading the watermarks of \(partition)")
        }
        guard high > low, let topic = rd_kafka_topic_new(handle.pointer, partition.topic, nil) else { return nil }
        defer { rd_kafka_topic_destroy(topic) }
        let partitionID = Int32(clamping: partition.partition)

        /// The offset and timestamp of the first record at or after `offset`.
        func record(at offset: Int64) throws(KafkaError) -> (offset: Int64, timestamp: Int64) {
            guard rd_kafka_consume_start(topic, partitionID, offset) == 0 else {
                throw KafkaError(rdKafka: rd_kafka_last_error(), context: "Reading \(partition) at \(offset)")
            }
            defer { rd_kafka_consume_stop(topic, partitionID) }
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                guard let message = rd_kafka_consume(topic, partitionID, 1000) else { continue }
                defer { rd_kafka_message_destroy(message) }
                if message.pointee.err == RD_KAFKA_RESP_ERR__PARTITION_EOF { continue }
                if message.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(rdKafka: message.pointee.err, context: "Reading \(partition) at \(offset)")
                }
                var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
                return (message.pointee.offset, rd_kafka_message_timestamp(message, &type))
            }
            throw KafkaError(
                code: .rdkafka(RD_KAFKA_RESP_ERR__TIMED_OUT),
                message: "Reading \(partition) at offset \(offset) timed out; check that its leader is up.",
                isRetriable: true
            )
        }

        guard try record(at: high - 1).timestamp >= timestamp else { return nil }
        var lower = low
        var upper = high - 1
        while lower < upper {
            let found = try record(at: lower + (upper - lower) / 2)
            if found.timestamp >= timestamp {
                upper = min(found.offset, upper)
            } else {
                lower = found.offset + 1
            }
        }
        return lower
    }
}
