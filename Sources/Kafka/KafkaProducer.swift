import CRdKafka
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// An idempotent Kafka producer. A ServiceLifecycle `Service`: `run()` owns the poll loop (a
/// dedicated thread serving delivery reports) and flushes outstanding records on graceful
/// shutdown. Keep `run()` going while you send.
///
/// ```swift
/// let producer = try KafkaProducer(configuration: .init(bootstrapServers: ["localhost:9092"]), logger: logger)
/// // in a ServiceGroup, or: async let _ = producer.run()
/// let report = try await producer.send(KafkaProducerRecord(topic: "t", key: "d1", value: bytes))
/// ```
public final class KafkaProducer: Service, Sendable {
    private let handle: RDKafkaHandle
    private let configuration: KafkaProducerConfiguration
    private let logger: Logger
    private let state = NIOLockedValueBox(ProducerStateMachine())
    /// `rd_kafka_topic_t` handles by name, created on first use and destroyed in `deinit`.
    private let topics = NIOLockedValueBox([String: TopicHandle]())

    struct TopicHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// Creates a producer; nothing is sent until you call `send`, and nothing is delivered
    /// until `run()` runs.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        if configuration.bootstrapServers.isEmpty {
            throw KafkaError(code: .configuration, message: "bootstrapServers is empty: name at least one broker host:port.")
        }
        self.configuration = configuration
        self.logger = logger
        self.handle = try RDKafkaHandle(
            type: RD_KAFKA_PRODUCER,
            properties: configuration.properties,
            context: RDKafkaContext(logger: logger)
        ) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
                guard let message, let opaque = message.pointee._private else { return }
                DeliveryBatch.deliver(opaque: opaque, message: message)
            }
        }
    }

    deinit {
        for topic in topics.withLockedValue({ $0.values }) {
            rd_kafka_topic_destroy(topic.pointer)
        }
        // `handle` is destroyed after this (rd_kafka_destroy).
    }

    // MARK: - Service

    /// Serves delivery reports on a dedicated thread until graceful shutdown or cancellation,
    /// then flushes (up to `flushTimeout`) and fails what is still outstanding.
    public func run() async throws {
        guard state.withLockedValue({ $0.startRunning() }) else {
            throw KafkaError(code: .alreadyRunning, message: "KafkaProducer.run() was called twice; call it once.")
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                _ = await runOnDedicatedThread(name: "kafka-prod-poll") { () -> Result<Void, Never> in
                    self.pollLoop()
                    return .success(())
                }
            } onGracefulShutdown: {
                self.requestStop()
            }
        } onCancel: {
            self.requestStop()
        }
    }

    private func requestStop() {
        let waiters = state.withLockedValue { $0.requestStop() }
        for waiter in waiters {
            waiter.resume(returning: .stop(.shutDown("Sending a record")))
        }
        rd_kafka_yield(handle.pointer)
    }

    private func pollLoop() {
        logger.debug("Kafka producer poll loop started")
        while true {
            let events = rd_kafka_poll(handle.pointer, 100)
            let (waiters, exit) = state.withLockedValue { $0.polled(events: events) }
            for waiter in waiters {
                waiter.resume(returning: .retry)
            }
            if exit { break }
        }
        let flushResult = rd_kafka_flush(handle.pointer, Int32(configuration.flushTimeout.milliseconds))
        if flushResult != RD_KAFKA_RESP_ERR_NO_ERROR {
            let left = rd_kafka_outq_len(handle.pointer)
            logger.warning(
                "Kafka producer shutdown: \(left) records not delivered within the flush timeout; they fail with a purge error",
                metadata: ["kafka.error": "\(KafkaError.Code.rdkafka(flushResult))"]
            )
            rd_kafka_purge(handle.pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            let deadline = ContinuousClock.now + .seconds(5)
            while rd_kafka_outq_len(handle.pointer) > 0 && ContinuousClock.now < deadline {
                rd_kafka_poll(handle.pointer, 50)
            }
        }
        let abandoned = state.withLockedValue { $0.stopped() }
        for batch in abandoned {
            batch.failRemaining(.shutDown("Delivering a record"))
        }
        logger.debug("Kafka producer poll loop stopped")
    }

    // MARK: - Sending

    /// Sends one record and returns once the broker confirmed it.
    ///
    /// - Throws: `KafkaError` if the record was not delivered (e.g. `rdkafka._MSG_TIMED_OUT`
    ///   after `deliveryTimeout`, or `kafka.shut-down`).
    public func send(_ record: KafkaProducerRecord) async throws(KafkaError) -> KafkaDeliveryReport {
        let results = try await send(batch: [record])
        return try results[0].get()
    }

    /// Enqueues every record without waiting for each, then returns once every record has a
    /// delivery report, in the order of `records`.
    ///
    /// When the client queue is full (`maxQueuedRecords`), enqueuing waits for delivery
    /// reports to free space: backpressure, never a drop. Records already handed to librdkafka
    /// are always awaited, even if the task is cancelled; records not yet handed over then fail
    /// with `kafka.cancelled`.
    ///
    /// - Throws: `kafka.shut-down` if the producer has stopped (nothing was sent).
    public func send(batch records: [KafkaProducerRecord]) async throws(KafkaError) -> [Result<KafkaDeliveryReport, KafkaError>] {
        if records.isEmpty { return [] }
        let batch = DeliveryBatch(count: records.count)
        guard state.withLockedValue({ $0.beginSend(batch) }) else {
            throw .shutDown("Sending records")
        }
        var index = 0
        var seenGeneration: UInt64?
        var cachedTopic: CachedTopic?
        while index < records.count {
            let before = index
            let stop = enqueueRun(records, from: &index, batch: batch, cachedTopic: &cachedTopic)
            guard stop == .queueFull else { continue }
            if index != before { seenGeneration = nil }
            // The queue is full at `index`.
            guard let seen = seenGeneration else {
                // Read the generation, then retry once: space freed after this read wakes us.
                seenGeneration = state.withLockedValue { $0.capacityGeneration }
                continue
            }
            seenGeneration = nil
            if case .stop(let reason) = await waitForCapacity(seen: seen) {
                for remaining in index..<records.count {
                    batch.fail(remaining, reason)
                }
                break
            }
        }
        state.withLockedValue { $0.endSend() }
        await batch.wait()
        state.withLockedValue { $0.finishedBatch(batch) }
        return batch.results(for: records)
    }

    /// The last topic handle used by a `send` call, so a batch to one topic looks it up once.
    struct CachedTopic {
        let name: String
        let handle: OpaquePointer
    }

    enum RunStop {
        /// Every record from the start index on was handed over or failed.
        case done
        /// librdkafka's queue is full at `index`: wait for capacity, then call again.
        case queueFull
    }

    /// Hands records to librdkafka from `index` on, synchronously, until all are handed over or
    /// the queue is full; records librdkafka refuses otherwise fail in `batch`. Reads the records
    /// in place (no copy of each record, no reference counting per record).
    private func enqueueRun(
        _ records: [KafkaProducerRecord],
        from index: inout Int,
        batch: DeliveryBatch,
        cachedTopic: inout CachedTopic?
    ) -> RunStop {
        records.withUnsafeBufferPointer { records in
            while index < records.count {
                let topicHandle: OpaquePointer
                if let cached = cachedTopic, cached.name == records[index].topic {
                    topicHandle = cached.handle
                } else if let handle = self.topicHandle(records[index].topic) {
                    topicHandle = handle
                    cachedTopic = CachedTopic(name: records[index].topic, handle: handle)
                } else {
                    batch.fail(index, KafkaError(code: .invalidArgument, message: "Topic name \(records[index].topic) is not valid."))
                    index += 1
                    continue
                }
                let error = enqueue(records[index], topic: topicHandle, opaque: batch.opaque(for: index))
                if error == RD_KAFKA_RESP_ERR_NO_ERROR {
                    index += 1
                } else if error == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                    return .queueFull
                } else {
                    batch.fail(index, KafkaError(rdKafka: error, context: "Record to \(records[index].topic) was not accepted"))
                    index += 1
                }
            }
            return .done
        }
    }

    private func waitForCapacity(seen: UInt64) async -> ProducerStateMachine.CapacityOutcome {
        let id = state.withLockedValue { $0.makeWaiterID() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: ProducerStateMachine.Waiter) in
                if Task.isCancelled {
                    continuation.resume(returning: .stop(.cancelled("Waiting for producer queue space")))
                    return
                }
                let immediate = state.withLockedValue {
                    $0.waitForCapacity(seen: seen, id: id, continuation: continuation)
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.cancelWaiter(id: id) }
            waiter?.resume(returning: .stop(.cancelled("Waiting for producer queue space")))
        }
    }

    private func topicHandle(_ name: String) -> OpaquePointer? {
        topics.withLockedValue { topics in
            if let existing = topics[name] { return existing.pointer }
            guard !name.isEmpty, let created = rd_kafka_topic_new(handle.pointer, name, nil) else { return nil }
            topics[name] = TopicHandle(pointer: created)
            return created
        }
    }

    /// Hands one record to librdkafka (copying its bytes); non-blocking.
    @inline(__always)
    private func enqueue(_ record: borrowing KafkaProducerRecord, topic: OpaquePointer, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        let partition = record.partition.map { Int32(clamping: $0) } ?? RD_KAFKA_PARTITION_UA
        if record.headers.isEmpty && record.timestamp == nil {
            // Fast path: the classic API needs no allocation per record.
            let result = record.value.withUnsafeBytes { value in
                withOptionalBytes(record.key) { key in
                    rd_kafka_produce(
                        topic, partition, RD_KAFKA_MSG_F_COPY,
                        UnsafeMutableRawPointer(mutating: value.baseAddress), value.count,
                        key?.baseAddress, key?.count ?? 0,
                        opaque
                    )
                }
            }
            return result == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_last_error()
        }
        let headers = rd_kafka_headers_new(record.headers.count)
        record.headers.withUnsafeBufferPointer { list in
            for header in list.indices {
                list[header].value.withUnsafeBytes { value in
                    _ = rd_kafka_header_add(headers, list[header].key, -1, value.baseAddress, value.count)
                }
            }
        }
        let error: OpaquePointer? = record.value.withUnsafeBytes { value in
            withOptionalBytes(record.key) { key in
                // On the stack: no allocation per record for the argument list.
                withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 8) { values in
                    var count = 0
                    func add(_ type: rd_kafka_vtype_t, _ set: (inout rd_kafka_vu_t) -> Void) {
                        var value = rd_kafka_vu_t()
                        value.vtype = type
                        set(&value)
                        values.initializeElement(at: count, to: value)
                        count += 1
                    }
                    add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = topic }
                    add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition }
                    add(RD_KAFKA_VTYPE_VALUE) {
                        $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                        $0.u.mem.size = value.count
                    }
                    add(RD_KAFKA_VTYPE_KEY) {
                        $0.u.mem.ptr = key.flatMap { UnsafeMutableRawPointer(mutating: $0.baseAddress) }
                        $0.u.mem.size = key?.count ?? 0
                    }
                    add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                    add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
                    add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers }
                    if let timestamp = record.timestamp {
                        add(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp }
                    }
                    // rd_kafka_vu_t is plain data: nothing to deinitialize.
                    return rd_kafka_produceva(handle.pointer, values.baseAddress, count)
                }
            }
        }
        guard let error else { return RD_KAFKA_RESP_ERR_NO_ERROR }
        // On failure the headers were not taken over.
        rd_kafka_headers_destroy(headers)
        let code = rd_kafka_error_code(error)
        rd_kafka_error_destroy(error)
        return code
    }
}

/// Calls `body` with the bytes of `bytes`, or with `nil`.
@inline(__always)
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    if let bytes {
        return bytes.withUnsafeBytes { body($0) }
    }
    return body(nil)
}
