import CRdKafka
import DequeModule
import Dispatch
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// An at-least-once Kafka consumer. A ServiceLifecycle `Service`: `run()` owns the poll loop on
/// a dedicated thread; graceful shutdown (or leaving the `for await` loop over ``records``)
/// commits the offsets marked done and leaves the group (`rd_kafka_consumer_close`).
///
/// ```swift
/// let consumer = try KafkaConsumer(configuration: .init(
///     bootstrapServers: servers, consumptionStrategy: .group(id: "windowing", topics: ["fluxgate.readings"])),
///     logger: logger)
/// // in a ServiceGroup, or: async let _ = consumer.run()
/// for await record in consumer.records {
///     process(record)
///     try consumer.markDone(record)   // stored now, committed within commitInterval and on close
/// }
/// ```
public final class KafkaConsumer: Service, Sendable {
    private let handle: RDKafkaHandle
    private let consumerQueue: QueueHandle
    private let configuration: KafkaConsumerConfiguration
    private let logger: Logger
    private let shared: ConsumerShared

    /// Partition assignments and revocations, in order. Buffers the newest 1024 unread events.
    public let rebalanceEvents: AsyncStream<KafkaRebalanceEvent>

    /// The records, as an async sequence (see ``KafkaConsumerRecords``).
    public var records: KafkaConsumerRecords { KafkaConsumerRecords(shared: shared, handle: handle) }

    /// The records in zero-copy batches, as an async sequence (see ``KafkaConsumerBatches``).
    /// Use this or ``records``, not both.
    public var batches: KafkaConsumerBatches { KafkaConsumerBatches(shared: shared, handle: handle) }

    struct QueueHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Creates a consumer; it joins its group or takes its partitions when `run()` starts.
    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws(KafkaError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        let (events, continuation) = AsyncStream<KafkaRebalanceEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        self.rebalanceEvents = events
        let shared = ConsumerShared(maxBuffered: configuration.maxBufferedRecords, rebalanceContinuation: continuation)
        self.shared = shared
        var properties = configuration.properties
        if properties["group.id"] == nil {
            // librdkafka's consumer API needs a group even for manual assignment; this one is
            // never joined and nothing is committed to it (enable.auto.commit=false).
            properties["group.id"] = "fluxgate-unjoined-\(UUID().uuidString)"
        }
        let context = RDKafkaContext(logger: logger) { client, error, partitions in
            Self.rebalance(shared: shared, logger: logger, client: client, error: error, partitions: partitions)
        }
        let handle = try RDKafkaHandle(type: RD_KAFKA_CONSUMER, properties: properties, context: context) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { client, error, partitions, _ in
                guard let client, let partitions, let context = RDKafkaContext.from(client) else { return }
                context.rebalance?(client, error, partitions)
            }
        }
        self.handle = handle
        rd_kafka_poll_set_consumer(handle.pointer)
        guard let queue = rd_kafka_queue_get_consumer(handle.pointer) else {
            throw KafkaError(code: .configuration, message: "librdkafka returned no consumer queue; check group.id.")
        }
        let queueHandle = QueueHandle(pointer: queue)
        self.consumerQueue = queueHandle
        shared.wakePoller.withLockedValue { $0 = { rd_kafka_queue_yield(queueHandle.pointer) } }
    }

    deinit {
        shared.wakePoller.withLockedValue { $0 = nil }
        rd_kafka_queue_destroy(consumerQueue.pointer)
        // `handle` is destroyed after this (rd_kafka_destroy closes the consumer if needed).
    }

    // MARK: - Service

    /// Polls on a dedicated thread until graceful shutdown, cancellation or the end of the
    /// record iteration; then closes (commits marked offsets, leaves the group).
    public func run() async throws {
        guard shared.state.withLockedValue({ $0.startRunning() }) else {
            throw KafkaError(code: .alreadyRunning, message: "KafkaConsumer.run() was called twice; call it once.")
        }
        let shared = self.shared
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                _ = await runOnDedicatedThread(name: "kafka-cons-poll") { () -> Result<Void, Never> in
                    self.pollLoop()
                    return .success(())
                }
            } onGracefulShutdown: {
                shared.requestClose()
            }
        } onCancel: {
            shared.requestClose()
        }
    }

    /// Stops reading: commits marked offsets, leaves the group; `run()` then returns.
    public func close() {
        shared.requestClose()
    }

    // MARK: - At-least-once

    /// Stores `record`'s offset + 1 for its partition: after a restart or rebalance the group
    /// resumes after it. Mark records of one partition in order. Committed every
    /// `commitInterval` and on close.
    ///
    /// - Throws: `rdkafka._STATE` / `kafka.not-assigned` when the partition is no longer
    ///   assigned (the record will be read again by its new owner).
    public func markDone(_ record: KafkaConsumerRecord) throws(KafkaError) {
        try markDone([record])
    }

    /// Marks several records done: stores the highest offset + 1 per partition.
    public func markDone(_ records: [KafkaConsumerRecord]) throws(KafkaError) {
        var highest: [KafkaTopicPartition: Int64] = [:]
        for record in records {
            highest[record.topicPartition] = max(highest[record.topicPartition] ?? -1, record.offset)
        }
        try storeOffsets(after: highest)
    }

    /// Marks every record of `batch` done.
    public func markDone(_ batch: KafkaConsumerBatch) throws(KafkaError) {
        try storeOffsets(after: batch.highestOffsets)
    }

    /// Stores `offset + 1` for each partition of `highest`.
    private func storeOffsets(after highest: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        guard !highest.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(capacity: highest.count)
        for (partition, offset) in highest {
            list.add(partition, offset: offset + 1)
        }
        let error = rd_kafka_offsets_store(handle.pointer, list.pointer)
        if error == RD_KAFKA_RESP_ERR__STATE {
            throw KafkaError(
                code: .notAssigned,
                message: "Cannot mark records done: their partition is not assigned to this consumer any more (rebalance or close); its new owner reads them again."
            )
        }
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdKafka: error, context: "Storing consumed offsets")
        }
        if let failed = list.entries.first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            throw KafkaError(rdKafka: failed.error, context: "Storing the offset of \(failed.topicPartition)")
        }
    }

    /// Commits the stored offsets now and waits for the broker.
    public func commit() async throws(KafkaError) {
        try await onPollThread { () throws(KafkaError) in
            let error = rd_kafka_commit(self.handle.pointer, nil, 0)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__NO_OFFSET {
                throw KafkaError(rdKafka: error, context: "Committing offsets")
            }
        }
    }

    // MARK: - Flow and position

    /// Stops fetching these partitions until ``resume(_:)``. Records already buffered are still
    /// delivered.
    public func pause(_ partitions: [KafkaTopicPartition]) async throws(KafkaError) {
        try await onPollThread { () throws(KafkaError) in
            try self.setPaused(partitions, paused: true)
        }
    }

    /// Resumes fetching these partitions.
    public func resume(_ partitions: [KafkaTopicPartition]) async throws(KafkaError) {
        try await onPollThread { () throws(KafkaError) in
            try self.setPaused(partitions, paused: false)
        }
    }

    /// Moves the read position of an assigned partition. Buffered records of that partition are
    /// dropped; the next record handed out is the one at `offset`.
    public func seek(_ partition: KafkaTopicPartition, to offset: KafkaOffset) async throws(KafkaError) {
        try await onPollThread { () throws(KafkaError) in
            try self.seekOnPollThread([partition: offset.rdKafkaValue])
        }
    }

    /// Moves the read position of assigned partitions to the first record with a timestamp at
    /// or after `timestamp` (epoch ms), or to the end where there is none. Returns the offsets
    /// chosen (`-1` = end).
    ///
    /// Asks the brokers (`rd_kafka_offsets_for_times`). Where a broker answers "end" although
    /// its last record is newer (the dev cluster cannot look up by time), the offset is found by
    /// a binary search over the records, assuming timestamps grow with offsets.
    @discardableResult
    public func seek(_ partitions: [KafkaTopicPartition], toTimestamp timestamp: Int64) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        let handle = self.handle
        let lookup = TimestampLookup(bootstrapServers: configuration.bootstrapServers, logger: logger)
        let offsets = try await runBlocking(name: "kafka-offsets-for-times") { () throws(KafkaError) -> [KafkaTopicPartition: Int64] in
            let list = RDKafkaTopicPartitionList(capacity: partitions.count)
            for partition in partitions {
                list.add(partition, offset: timestamp)
            }
            let error = rd_kafka_offsets_for_times(handle.pointer, list.pointer, 10_000)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(rdKafka: error, context: "Looking up offsets for timestamp \(timestamp)")
            }
            var offsets: [KafkaTopicPartition: Int64] = [:]
            for entry in list.entries {
                if entry.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError(rdKafka: entry.error, context: "Looking up the offset of \(entry.topicPartition) for timestamp \(timestamp)")
                }
                if entry.offset >= 0 {
                    offsets[entry.topicPartition] = entry.offset
                } else {
                    offsets[entry.topicPartition] = try lookup.offset(of: entry.topicPartition, atOrAfter: timestamp) ?? -1
                }
            }
            return offsets
        }
        try await onPollThread { () throws(KafkaError) in
            try self.seekOnPollThread(offsets)
        }
        return offsets
    }

    /// The partitions currently assigned to this consumer.
    public func assignment() async throws(KafkaError) -> [KafkaTopicPartition] {
        try await onPollThread { () throws(KafkaError) -> [KafkaTopicPartition] in
            try self.currentAssignment().sorted()
        }
    }

    // MARK: - Poll thread

    private func pollLoop() {
        logger.debug("Kafka consumer poll loop started")
        do throws(KafkaError) {
            try start()
        } catch {
            logger.error("\(error.message)", metadata: ["kafka.error": "\(error.code)"])
            shared.requestClose()
        }
        var polled = Deque<PolledMessage>(minimumCapacity: 1024)
        var messages = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: 1024)
        var lastTopic: (pointer: OpaquePointer, name: String)?
        while true {
            let (commands, close) = shared.state.withLockedValue { $0.takeCommands() }
            for command in commands {
                command.run()
            }
            if close { break }
            if shared.state.withLockedValue({ $0.parkIfFull() }) {
                // Backpressure: stop polling until the app reads (or a command or close arrives).
                _ = shared.parked.wait(timeout: .now() + .milliseconds(100))
                continue
            }
            // rd_kafka_consume_batch_queue waits until the whole array is filled or the timeout
            // passes, which would hold records that are already here: wait for the first one
            // only, then take whatever else is ready without waiting.
            var count = rd_kafka_consume_batch_queue(consumerQueue.pointer, 100, &messages, 1)
            if count == 1 {
                let more = messages.withUnsafeMutableBufferPointer { buffer in
                    rd_kafka_consume_batch_queue(consumerQueue.pointer, 0, buffer.baseAddress.map { $0 + 1 }, buffer.count - 1)
                }
                if more > 0 { count += more }
            }
            if count > 0 {
                for index in 0..<count {
                    guard let current = messages[index] else { continue }
                    if let message = checkMessage(current, lastTopic: &lastTopic) {
                        polled.append(message)
                    } else {
                        rd_kafka_message_destroy(current)
                    }
                }
            }
            if !polled.isEmpty {
                if let (reader, records) = shared.state.withLockedValue({ $0.append(&polled) }) {
                    reader.resume(returning: records)
                }
                polled.reserveCapacity(1024)
            }
        }
        let closeError = rd_kafka_consumer_close(handle.pointer)
        if closeError != RD_KAFKA_RESP_ERR_NO_ERROR {
            let error = KafkaError(rdKafka: closeError, context: "Closing the consumer")
            logger.warning("\(error.message)", metadata: ["kafka.error": "\(error.code)"])
        }
        let (reader, commands, unread) = shared.state.withLockedValue { $0.closed() }
        for message in unread {
            message.destroy()
        }
        reader?.resume(returning: nil)
        for command in commands {
            command.fail(.shutDown("Consumer operation"))
        }
        shared.rebalanceContinuation.finish()
        logger.debug("Kafka consumer closed")
    }

    /// Subscribes or assigns, per the consumption strategy.
    private func start() throws(KafkaError) {
        switch configuration.consumptionStrategy {
        case .group(_, let topics):
            let list = RDKafkaTopicPartitionList(capacity: topics.count)
            for topic in topics {
                list.add(KafkaTopicPartition(topic: topic, partition: Int(RD_KAFKA_PARTITION_UA)), offset: -1001)
            }
            let error = rd_kafka_subscribe(handle.pointer, list.pointer)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(rdKafka: error, context: "Subscribing to \(topics.joined(separator: ", "))")
            }
        case .partitions(let partitions, _):
            warmUpMetadata(topics: Set(partitions.keys.map(\.topic)))
            let list = RDKafkaTopicPartitionList(capacity: partitions.count)
            for (partition, offset) in partitions.sorted(by: { $0.key < $1.key }) {
                list.add(partition, offset: offset.rdKafkaValue)
            }
            let error = rd_kafka_assign(handle.pointer, list.pointer)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(rdKafka: error, context: "Assigning partitions")
            }
            shared.rebalanceContinuation.yield(.assigned(partitions.keys.sorted()))
        }
    }

    /// Learns the partition leaders (and connects to them) before assigning: an assignment made
    /// before leaders are known waits a fixed 500 ms inside librdkafka before it first asks for
    /// offsets. Failures are ignored; the assignment then just starts later.
    private func warmUpMetadata(topics: Set<String>) {
        for topic in topics {
            guard let topicHandle = rd_kafka_topic_new(handle.pointer, topic, nil) else { continue }
            var metadata: UnsafePointer<rd_kafka_metadata>?
            if rd_kafka_metadata(handle.pointer, 0, topicHandle, &metadata, 5_000) == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata {
                rd_kafka_metadata_destroy(metadata)
            }
            rd_kafka_topic_destroy(topicHandle)
        }
    }

    /// Wraps a polled message for the reader, or logs an error event and returns `nil` (the
    /// caller then destroys it).
    private func checkMessage(
        _ message: UnsafeMutablePointer<rd_kafka_message_t>,
        lastTopic: inout (pointer: OpaquePointer, name: String)?
    ) -> PolledMessage? {
        let m = message.pointee
        if m.err != RD_KAFKA_RESP_ERR_NO_ERROR {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                let detail = rd_kafka_message_errstr(message).map { String(cString: $0) }
                let error = KafkaError(rdKafka: m.err, context: "Consumer error", detail: detail)
                logger.warning("\(error.message)", metadata: ["kafka.error": "\(error.code)"])
                if m.err == RD_KAFKA_RESP_ERR__FATAL {
                    shared.requestClose()
                }
            }
            return nil
        }
        guard let topicPointer = m.rkt else { return nil }
        let topic: String
        if let lastTopic, lastTopic.pointer == topicPointer {
            topic = lastTopic.name
        } else {
            topic = String(cString: rd_kafka_topic_name(topicPointer))
            lastTopic = (topicPointer, topic)
        }
        return PolledMessage(pointer: message, topicPartition: KafkaTopicPartition(topic: topic, partition: Int(m.partition)))
    }

    /// Runs `body` on the poll thread (between polls) and returns its result.
    private func onPollThread<Result: Sendable>(
        _ body: @escaping @Sendable () throws(KafkaError) -> Result
    ) async throws(KafkaError) -> Result {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Swift.Result<Result, KafkaError>, Never>) in
            let command = ConsumerStateMachine.Command(
                run: {
                    do throws(KafkaError) {
                        continuation.resume(returning: .success(try body()))
                    } catch {
                        continuation.resume(returning: .failure(error))
                    }
                },
                fail: { error in continuation.resume(returning: .failure(error)) }
            )
            if shared.state.withLockedValue({ $0.enqueue(command) }) {
                shared.wake()
            } else {
                command.fail(.shutDown("Consumer operation"))
            }
        }
        return try result.get()
    }

    private func currentAssignment() throws(KafkaError) -> [KafkaTopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let error = rd_kafka_assignment(handle.pointer, &list)
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw KafkaError(rdKafka: error, context: "Reading the assignment")
        }
        return RDKafkaTopicPartitionList(taking: list).entries.map(\.topicPartition)
    }

    private func setPaused(_ partitions: [KafkaTopicPartition], paused: Bool) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(capacity: partitions.count)
        for partition in partitions {
            list.add(partition, offset: -1001)
        }
        let error = paused
            ? rd_kafka_pause_partitions(handle.pointer, list.pointer)
            : rd_kafka_resume_partitions(handle.pointer, list.pointer)
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdKafka: error, context: paused ? "Pausing partitions" : "Resuming partitions")
        }
    }

    private func seekOnPollThread(_ offsets: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        let list = RDKafkaTopicPartitionList(capacity: offsets.count)
        for (partition, offset) in offsets {
            list.add(partition, offset: offset)
        }
        // librdkafka 2.0.2 sometimes gives up waiting for the seek's confirmation early under
        // load (_TIMED_OUT well before the timeout); seeking again is harmless, so retry.
        var attempt = 1
        while let error = rd_kafka_seek_partitions(handle.pointer, list.pointer, 10_000) {
            let code = rd_kafka_error_code(error)
            let text = String(cString: rd_kafka_error_string(error))
            rd_kafka_error_destroy(error)
            if code == RD_KAFKA_RESP_ERR__TIMED_OUT && attempt < 3 {
                logger.debug("Kafka seek timed out, retrying", metadata: ["kafka.attempt": "\(attempt)"])
                attempt += 1
                continue
            }
            throw KafkaError(rdKafka: code, context: "Seeking", detail: text)
        }
        if let failed = list.entries.first(where: { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }) {
            throw KafkaError(rdKafka: failed.error, context: "Seeking \(failed.topicPartition)")
        }
        for message in shared.state.withLockedValue({ $0.dropBuffered(Set(offsets.keys)) }) {
            message.destroy()
        }
    }

    // MARK: - Rebalance (called on the poll thread from inside rd_kafka_consumer_poll)

    private static func rebalance(
        shared: ConsumerShared,
        logger: Logger,
        client: OpaquePointer,
        error: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    ) {
        let topicPartitions = RDKafkaTopicPartitionList.topicPartitions(of: partitions).sorted()
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            logger.info("Kafka partitions assigned", metadata: ["kafka.partitions": "\(topicPartitions)"])
            if cooperative {
                if let failure = rd_kafka_incremental_assign(client, partitions) {
                    logger.error("Kafka incremental assign failed: \(String(cString: rd_kafka_error_string(failure)))")
                    rd_kafka_error_destroy(failure)
                }
            } else {
                let result = rd_kafka_assign(client, partitions)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR {
                    logger.error("Kafka assign failed: \(String(cString: rd_kafka_err2str(result)))")
                }
            }
            shared.rebalanceContinuation.yield(.assigned(topicPartitions))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            logger.info("Kafka partitions revoked", metadata: ["kafka.partitions": "\(topicPartitions)"])
            for message in shared.state.withLockedValue({ $0.revoked(topicPartitions) }) {
                message.destroy()
            }
            shared.rebalanceContinuation.yield(.revoked(topicPartitions))
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(client, partitions) {
                    rd_kafka_error_destroy(failure)
                }
            } else {
                rd_kafka_assign(client, nil)
            }
        default:
            let kafkaError = KafkaError(rdKafka: error, context: "Rebalance failed")
            logger.error("\(kafkaError.message)", metadata: ["kafka.error": "\(kafkaError.code)"])
            for message in shared.state.withLockedValue({ $0.revoked(topicPartitions) }) {
                message.destroy()
            }
            shared.rebalanceContinuation.yield(.revoked(topicPartitions))
            rd_kafka_assign(client, nil)
        }
    }
}
