import CRdKafka
import Logging

/// Topic and partition metadata.
public struct KafkaTopicMetadata: Sendable, Hashable {
    /// One partition of a topic.
    public struct Partition: Sendable, Hashable {
        /// The partition number.
        public var id: Int
        /// The broker id of the leader, or `-1`.
        public var leader: Int
        /// The broker ids holding replicas.
        public var replicas: [Int]
    }

    /// The topic name.
    public var name: String
    /// The partitions, by id.
    public var partitions: [Partition]
}

/// Topic administration and metadata: create topics, list topics and partitions, read
/// watermarks. Every call blocks a dedicated thread, never the cooperative pool.
public final class KafkaAdmin: Sendable {
    private let handle: RDKafkaHandle

    /// Connects to the cluster at `bootstrapServers`.
    public init(
        bootstrapServers: [String],
        clientID: String = "fluxgate-admin",
        additionalProperties: [String: String] = [:],
        logger: Logger
    ) throws(KafkaError) {
        guard !bootstrapServers.isEmpty else {
            throw KafkaError(code: .configuration, message: "bootstrapServers is empty: name at least one broker host:port.")
        }
        var properties = ["bootstrap.servers": bootstrapServers.joined(separator: ","), "client.id": clientID]
        properties.merge(additionalProperties) { _, new in new }
        handle = try RDKafkaHandle(type: RD_KAFKA_PRODUCER, properties: properties, context: RDKafkaContext(logger: logger))
    }

    /// Creates a topic (`rd_kafka_CreateTopics`).
    ///
    /// - Parameter replicationFactor: replicas per partition, `-1` for the broker default.
    /// - Throws: `rdkafka.TOPIC_ALREADY_EXISTS` if it exists; `rdkafka._UNSUPPORTED_FEATURE` on
    ///   brokers without CreateTopics, such as the dev cluster (use
    ///   ``DevKafkaCluster/createTopic(_:partitions:)`` there).
    public func createTopic(
        _ name: String,
        partitions: Int,
        replicationFactor: Int = -1,
        timeout: Duration = .seconds(30)
    ) async throws(KafkaError) {
        guard !name.isEmpty, partitions >= 1 else {
            throw KafkaError(code: .invalidArgument, message: "Give a topic name and at least one partition.")
        }
        let handle = self.handle
        try await runBlocking(name: "kafka-admin") { () throws(KafkaError) in
            var errorText = [CChar](repeating: 0, count: 512)
            guard let newTopic = rd_kafka_NewTopic_new(name, Int32(clamping: partitions), Int32(clamping: replicationFactor), &errorText, errorText.count) else {
                throw KafkaError(code: .invalidArgument, message: "Topic \(name) is not valid: \(String(cBuffer: errorText)).")
            }
            defer { rd_kafka_NewTopic_destroy(newTopic) }
            let options = rd_kafka_AdminOptions_new(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_request_timeout(options, Int32(timeout.milliseconds), &errorText, errorText.count)
            rd_kafka_AdminOptions_set_operation_timeout(options, Int32(timeout.milliseconds), &errorText, errorText.count)
            let queue = rd_kafka_queue_new(handle.pointer)
            defer { rd_kafka_queue_destroy(queue) }
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(handle.pointer, &topics, 1, options, queue)
            guard let event = rd_kafka_queue_poll(queue, Int32(timeout.milliseconds) + 5_000) else {
                throw KafkaError(
                    code: .rdkafka(RD_KAFKA_RESP_ERR__TIMED_OUT),
                    message: "Creating topic \(name) got no answer within \(timeout); check that the brokers are reachable.",
                    isRetriable: true
                )
            }
            defer { rd_kafka_event_destroy(event) }
            let eventError = rd_kafka_event_error(event)
            if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
                let detail = rd_kafka_event_error_string(event).map { String(cString: $0) }
                throw KafkaError(rdKafka: eventError, context: "Creating topic \(name)", detail: detail)
            }
            guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
            var count = 0
            guard let results = rd_kafka_CreateTopics_result_topics(result, &count), count > 0, let topicResult = results[0] else {
                return
            }
            let topicError = rd_kafka_topic_result_error(topicResult)
            if topicError != RD_KAFKA_RESP_ERR_NO_ERROR {
                let detail = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) }
                throw KafkaError(rdKafka: topicError, context: "Creating topic \(name)", detail: detail)
            }
        }
    }

    /// The low and high watermark of a partition, asked of its leader.
    public func watermarks(topic: String, partition: Int, timeout: Duration = .seconds(10)) async throws(KafkaError) -> KafkaWatermarks {
        let handle = self.handle
        return try await runBlocking(name: "kafka-admin") { () throws(KafkaError) -> KafkaWatermarks in
            var low: Int64 = -1
            var high: Int64 = -1
            let error = rd_kafka_query_watermark_offsets(handle.pointer, topic, Int32(clamping: partition), &low, &high, Int32(timeout.milliseconds))
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(rdKafka: error, context: "Reading the watermarks of \(topic)[\(partition)]")
            }
            return KafkaWatermarks(low: low, high: high)
        }
    }

    /// Every topic with its partitions, sorted by name (internal topics included).
    public func listTopics(timeout: Duration = .seconds(10)) async throws(KafkaError) -> [KafkaTopicMetadata] {
        let handle = self.handle
        return try await runBlocking(name: "kafka-admin") { () throws(KafkaError) -> [KafkaTopicMetadata] in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let error = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, Int32(timeout.milliseconds))
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError(rdKafka: error, context: "Reading cluster metadata")
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            return topics.compactMap { topic -> KafkaTopicMetadata? in
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, let name = topic.topic else { return nil }
                let partitions = UnsafeBufferPointer(start: topic.partitions, count: Int(topic.partition_cnt)).map { partition in
                    KafkaTopicMetadata.Partition(
                        id: Int(partition.id),
                        leader: Int(partition.leader),
                        replicas: UnsafeBufferPointer(start: partition.replicas, count: Int(partition.replica_cnt)).map { Int($0) }
                    )
                }
                return KafkaTopicMetadata(name: String(cString: name), partitions: partitions.sorted { $0.id < $1.id })
            }.sorted { $0.name < $1.name }
        }
    }
}
