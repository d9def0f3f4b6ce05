#if canImport(Glibc)
import Glibc
#endif
import AsyncAlgorithms
import Kafka
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import Telemetry

/// The windowing stage: readings in, rolling statistics and alert transitions out.
///
/// A member of consumer group `fluxgate-windowing` (see ``WindowingService/groupID``) reading
/// the readings and operator topics. Each assigned readings partition has its own
/// `WindowAggregator` and `AlertEvaluator` (keys are device ids, so a device's readings all
/// land in one partition). Closed windows (and throttled live updates of open ones) go to the
/// stats topic, alert transitions to the alerts topic, both keyed by device id; a wall-clock
/// tick closes windows of silent devices and fires offline rules; operator acknowledgements
/// become `acknowledged` transitions.
///
/// At least once, restart- and rebalance-safe: outputs are produced first; once Kafka confirmed
/// them, the state of the devices that changed is written to the changelog topic (one record per
/// device), then the partition record with the offset the state covers; only once that is
/// confirmed are the input offsets marked done. On assignment the partition's records are
/// restored and records the state already covers are skipped; a replay re-emits the same stats
/// keys and alert ids (see docs/windowing.md).
///
/// Run it in a `ServiceGroup` after the producer: it runs the consumer itself.
public final class WindowingService: Service, Sendable {
    /// The consumer group of the stage.
    public static let groupID = "fluxgate-windowing"

    private let configuration: WindowingServiceConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let changelog: StateChangelog
    private let logger: Logger
    private let onReady: @Sendable () -> Void
    private let metrics = WindowingMetrics()
    private let appliedCount = Atomic<Int>(0)

    /// Readings applied to the state so far (replayed duplicates not counted).
    public var applied: Int { appliedCount.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - consumer: a consumer, not running yet, of the readings and operator topics in group
    ///     ``groupID`` (see ``consumerConfiguration(bootstrapServers:topics:)``); the service runs it.
    ///   - producer: an idempotent producer, running (start it before this service).
    ///   - bootstrapServers: for reading the changelog on assignment.
    ///   - onReady: called when the first partitions are assigned.
    public init(
        configuration: WindowingServiceConfiguration,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        bootstrapServers: [String],
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.consumer = consumer
        self.producer = producer
        self.changelog = StateChangelog(
            bootstrapServers: bootstrapServers,
            topic: configuration.changelogTopic,
            timeout: configuration.restoreTimeout,
            logger: logger
        )
        self.logger = logger
        self.onReady = onReady
    }

    /// Largest record the stage's producer accepts (`message.max.bytes`). The largest records are
    /// device state records, which grow with a device's metrics and open windows (a few KiB with
    /// the standard windows; hopping windows multiply them). 16 MiB.
    public static let maxRecordBytes = 16 * 1024 * 1024

    /// The producer settings the stage expects: idempotent (the defaults), lz4-compressed
    /// batches, records up to ``maxRecordBytes``.
    public static func producerConfiguration(bootstrapServers: [String], clientID: String) -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: bootstrapServers)
        configuration.clientID = clientID
        configuration.compression = .lz4
        configuration.additionalProperties["message.max.bytes"] = String(maxRecordBytes)
        return configuration
    }

    /// The consumer configuration the stage needs: group ``groupID`` on the readings and
    /// operator topics, from the earliest offset when the group has none.
    public static func consumerConfiguration(bootstrapServers: [String], topics: FluxgateTopics) -> KafkaConsumerConfiguration {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrapServers,
            consumptionStrategy: .group(id: groupID, topics: [topics.readings, topics.operatorActions])
        )
        configuration.clientID = "fluxgate-windowing"
        configuration.autoOffsetReset = .earliest
        // Co-partitioning of readings and operator acknowledgements relies on the range assignor.
        configuration.additionalProperties["partition.assignment.strategy"] = "range"
        return configuration
    }

    enum Event: Sendable {
        /// Records as the consumer handed them over (one channel hand-off per batch, not per record).
        case records([KafkaConsumerRecord])
        case rebalance(KafkaRebalanceEvent)
        case tick
    }

    /// Consumes, aggregates and produces until graceful shutdown.
    public func run() async throws {
        let channel = AsyncChannel<Event>()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [consumer] in try await consumer.run() }
            group.addTask { [consumer] in
                for await batch in consumer.batches {
                    await channel.send(.records(batch.records))
                }
                channel.finish()
            }
            group.addTask { [consumer] in
                for await event in consumer.rebalanceEvents {
                    await channel.send(.rebalance(event))
                }
            }
            group.addTask { [configuration] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: configuration.flushInterval)
                    await channel.send(.tick)
                }
            }
            let loop = Loop(service: self)
            do {
                for await event in channel {
                    try await loop.handle(event)
                }
                try await loop.flush(final: true)
            } catch {
                logger.error("windowing failed", metadata: ["error": "\(error)"])
                consumer.close()
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
        logger.info("windowing stopped")
    }

    // MARK: - The loop

    /// The state of the loop, owned by ``run()``'s task.
    final class Loop {
        let service: WindowingService
        var partitions: [Int: PartitionProcessor] = [:]
        var assigned: Set<KafkaTopicPartition> = []
        var readyReported = false
        var cache: [String: StoredPartition]?
        var cacheStale = true
        var pending: [(partition: Int?, record: KafkaProducerRecord)] = []
        var operatorDone: [KafkaConsumerRecord] = []
        var lastFlush = ContinuousClock.now

        init(service: WindowingService) { self.service = service }

        var topics: FluxgateTopics { service.configuration.topics }

        func handle(_ event: Event) async throws {
            switch event {
            case .records(let records):
                for record in records {
                    if record.topic == topics.readings {
                        try await handleReading(record)
                    } else if record.topic == topics.operatorActions {
                        try await handleOperator(record)
                    }
                    if pending.count >= service.configuration.maxPendingOutputs {
                        try await flush(final: false)
                    }
                }
            case .rebalance(.assigned(let list)):
                assigned.formUnion(list)
                cacheStale = true
                service.logger.info("partitions assigned", metadata: ["partitions": "\(list)"])
                // Restore now, so that the clock runs for silent devices of idle partitions too.
                for tp in list where tp.topic == topics.readings {
                    try await ensureProcessor(tp.partition)
                }
                if !readyReported {
                    readyReported = true
                    service.onReady()
                }
            case .rebalance(.revoked(let list)):
                // Send what is pending and snapshot, then forget the state: the next owner
                // restores it (offsets can no longer be stored; it replays from the snapshot).
                try await flush(final: true)
                assigned.subtract(list)
                for tp in list where tp.topic == topics.readings {
                    partitions[tp.partition] = nil
                }
                service.logger.info("partitions revoked", metadata: ["partitions": "\(list)"])
            case .tick:
                try await flush(final: false)
            }
        }

        /// Makes sure `partitions` holds the state of readings partition `partition`, restored
        /// from the changelog if needed. Callers then mutate it in place (`partitions[p]?.…`):
        /// a copy taken out of the dictionary would copy the whole state on its first change.
        func ensureProcessor(_ partition: Int) async throws {
            if partitions[partition] != nil { return }
            if cache == nil || cacheStale {
                cache = try await service.changelog.load()
                cacheStale = false
            }
            let key = StateRecords.partitionKey(topic: topics.readings, partition: partition)
            let stored = cache?.removeValue(forKey: key)
            let restored = PartitionProcessor.restore(
                topic: topics.readings, partition: partition, stored: stored,
                configuration: service.configuration.telemetry, now: .now, wallClock: WallClock.nowMilliseconds())
            for problem in restored.unreadable {
                service.logger.warning(
                    "unreadable windowing state record ignored (that state starts empty)",
                    metadata: ["partition": "\(partition)", "problem": "\(problem)"])
            }
            enqueue(restored.outputs, partition: partition)
            service.logger.info(
                "partition state ready",
                metadata: [
                    "partition": "\(partition)", "restored-devices": "\(restored.processor.books.count)",
                    "next-offset": "\(restored.processor.state.nextOffset.map(String.init) ?? "none")",
                ])
            var processor = restored.processor
            processor.liveUpdates = service.configuration.statsUpdateInterval != nil
            partitions[partition] = processor
        }

        func handleReading(_ record: KafkaConsumerRecord) async throws {
            try await ensureProcessor(record.partition)
            guard let admission = partitions[record.partition]?.admission(of: record.offset) else { return }
            switch admission {
            case .duplicate:
                service.metrics.replayed.increment()
                return
            case .gap(let expected):
                let pendingSeek = partitions[record.partition]?.pendingSeek
                if let seek = pendingSeek, seek.offset == expected, ContinuousClock.now - seek.since < .seconds(10) {
                    return  // waiting for the seek to take effect
                }
                if pendingSeek == nil {
                    service.logger.notice(
                        "records before the state's offset missing; seeking back",
                        metadata: ["partition": "\(record.partition)", "expected": "\(expected)", "got": "\(record.offset)"])
                    partitions[record.partition]?.pendingSeek = (expected, .now)
                    do {
                        try await service.consumer.seek(record.topicPartition, to: .offset(expected))
                    } catch {
                        service.logger.warning("seek failed", metadata: ["error": "\(error)"])
                    }
                    return
                }
                // The seek did not bring the missing records back (deleted by retention?): go on.
                service.logger.warning(
                    "records missing from the readings partition; continuing after the gap",
                    metadata: ["partition": "\(record.partition)", "expected": "\(expected)", "got": "\(record.offset)"])
            case .apply:
                break
            }
            // `nil`: the device's state already holds the record (ensureProcessor made the partition).
            guard let outputs = partitions[record.partition]?.apply(record, arrivedAt: Self.arrivedAt(record)) else {
                service.metrics.replayed.increment()
                return
            }
            service.appliedCount.add(1, ordering: .relaxed)
            service.metrics.readings.increment()
            enqueue(outputs, partition: record.partition)
        }

        func handleOperator(_ record: KafkaConsumerRecord) async throws {
            defer { operatorDone.append(record) }
            guard case .acknowledgement(let id, _, let by, let ts) = try? OperatorRecord.decode(record.value) else { return }
            // Co-partitioned: the ack of partition p is about a device of readings partition p.
            var candidates = Array(partitions.keys.sorted())
            let home = KafkaTopicPartition(topic: topics.readings, partition: record.partition)
            if partitions[record.partition] == nil, assigned.contains(home) {
                try await ensureProcessor(record.partition)
                candidates = [record.partition] + candidates
            } else if let index = candidates.firstIndex(of: record.partition) {
                candidates.swapAt(0, index)
            }
            for partition in candidates {
                if let transition = partitions[partition]?.acknowledge(id: id, at: ts, by: by) {
                    enqueue([.alert(transition)], partition: partition)
                    service.metrics.acknowledgements.increment()
                    return
                }
            }
        }

        func enqueue(_ outputs: [WindowingOutput], partition: Int?) {
            for output in outputs {
                pending.append((partition, service.record(for: output)))
            }
        }

        /// Applies the wall clock, publishes live updates when due, produces everything pending,
        /// writes due snapshots and marks the inputs they cover done.
        func flush(final: Bool) async throws {
            let now = ContinuousClock.now
            for partition in partitions.keys.sorted() {
                enqueue(partitions[partition]?.advance(now: now) ?? [], partition: partition)
            }
            if let interval = service.configuration.statsUpdateInterval {
                for partition in partitions.keys.sorted() {
                    enqueue(partitions[partition]?.dueOpenStatistics(now: now, interval: interval) ?? [], partition: partition)
                }
            }
            try await service.produce(pending.map(\.record))
            pending.removeAll(keepingCapacity: true)

            // Snapshots: device records, then (once confirmed) partition records, then the offsets
            // they cover.
            let changelogTopic = service.configuration.changelogTopic
            let fullInterval = service.configuration.fullSnapshotInterval
            var deviceRecords: [KafkaProducerRecord] = []
            var partitionRecords: [KafkaProducerRecord] = []
            var covered: [KafkaConsumerRecord] = []
            for partition in partitions.keys.sorted() {
                guard let processor = partitions[partition] else { continue }
                let full = fullInterval.map { now - processor.lastFullSnapshot >= $0 } ?? false
                guard processor.dirty || full else { continue }
                guard
                    final || full || processor.snapshotRequired
                        || now - processor.lastSnapshot >= service.configuration.snapshotInterval
                else { continue }
                let tp = KafkaTopicPartition(topic: topics.readings, partition: partition)
                guard assigned.contains(tp) || assigned.isEmpty else { continue }
                guard let snapshot = partitions[partition]?.takeSnapshot(now: now, full: full) else { continue }
                var bytes = snapshot.partition.count
                for record in snapshot.devices {
                    deviceRecords.append(
                        KafkaProducerRecord(topic: changelogTopic, partition: 0, key: record.key, value: record.value ?? []))
                    bytes += record.value?.count ?? 0
                }
                partitionRecords.append(
                    KafkaProducerRecord(
                        topic: changelogTopic, partition: 0,
                        key: StateRecords.partitionKey(topic: topics.readings, partition: partition),
                        value: snapshot.partition))
                if let last = snapshot.coveredThrough {
                    covered.append(KafkaConsumerRecord(topic: topics.readings, partition: partition, offset: last, key: nil, value: []))
                }
                service.metrics.snapshotBytes.record(bytes)
                service.metrics.deviceRecords.increment(by: Int64(snapshot.devices.count))
            }
            // A partition record must not land before the device records it vouches for.
            try await service.produce(deviceRecords)
            try await service.produce(partitionRecords)
            service.metrics.snapshots.increment(by: Int64(partitionRecords.count))
            // Operator records: their effects are in the snapshots just written (forced).
            covered.append(contentsOf: operatorDone)
            operatorDone.removeAll(keepingCapacity: true)
            for record in covered {
                do {
                    try service.consumer.markDone(record)
                } catch {
                    service.logger.debug("offset not stored", metadata: ["record": "\(record.topicPartition)@\(record.offset)", "error": "\(error)"])
                }
            }
            lastFlush = now
        }

        static func arrivedAt(_ record: KafkaConsumerRecord) -> Int64 {
            if let header = record.headers.first(where: { $0.key == ReadingRecord.receivedAtHeader }),
                let value = Int64(String(decoding: header.value, as: UTF8.self))
            {
                return value
            }
            return record.timestamp ?? WallClock.nowMilliseconds()
        }
    }

    // MARK: - Producing

    func record(for output: WindowingOutput) -> KafkaProducerRecord {
        switch output {
        case .stats(let stats):
            return KafkaProducerRecord(topic: configuration.topics.stats, key: stats.device.rawValue, value: stats.encoded())
        case .alert(let transition):
            return KafkaProducerRecord(topic: configuration.topics.alerts, key: transition.device.rawValue, value: transition.encoded())
        case .deadLetter(let original, let reason):
            return KafkaProducerRecord(
                topic: configuration.topics.deadLetter,
                key: original.key,
                value: original.value,
                headers: original.headers + [
                    KafkaHeader(key: "fluxgate-error", string: reason),
                    KafkaHeader(key: "fluxgate-kafka-topic", string: original.topic),
                ])
        }
    }

    /// Produces `records`, retrying refused ones with backoff, until Kafka confirmed all.
    func produce(_ records: [KafkaProducerRecord]) async throws {
        var pending = records
        var backoff = configuration.retryBackoff.minimum
        while !pending.isEmpty {
            let results = try await producer.send(batch: pending)
            var refused: [KafkaProducerRecord] = []
            var lastError: KafkaError?
            for (record, result) in zip(pending, results) {
                if case .failure(let error) = result {
                    refused.append(record)
                    lastError = error
                }
            }
            metrics.produced.increment(by: Int64(pending.count - refused.count))
            if let lastError, lastError.code == .messageSizeTooLarge,
                let largest = refused.max(by: { $0.value.count < $1.value.count })
            {
                throw WindowingError(
                    code: .recordTooLarge,
                    message:
                        "Kafka refused a record of \(largest.value.count) bytes for \(largest.topic) as too large (\(lastError.message)). A device's state record grows with its metrics and open windows: configure fewer or shorter-lived windows, or raise the changelog topic's max.message.bytes and the producer's message.max.bytes (WindowingService.maxRecordBytes, \(Self.maxRecordBytes) by default)."
                )
            }
            pending = refused
            if let lastError {
                if lastError.code == .shutDown { throw lastError }
                metrics.retries.increment(by: Int64(refused.count))
                logger.warning(
                    "Kafka refused records; producing them again",
                    metadata: ["count": "\(refused.count)", "error": "\(lastError)", "backoff": "\(backoff)"])
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, configuration.retryBackoff.maximum)
            }
        }
    }
}
