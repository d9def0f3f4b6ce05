import Kafka
import Logging
import Metrics
import NIOConcurrencyHelpers
import Observability
import ServiceLifecycle
import SocketIO
import Telemetry

/// The hub's Kafka side: reads every partition of the readings, stats, alerts, status and
/// operator topics, keeps the in-memory fleet view and broadcasts each record to the Socket.IO
/// rooms `device:{id}`, `fleet` and `fleet:{event}`. Also runs the producer for operator
/// actions and a housekeeping tick (offline detection, pruning, gauges).
///
/// Every hub instance must see every event, so the consumer uses **manual assignment of all
/// partitions, without a consumer group** (a shared group would split the partitions between
/// instances; one group per instance would work too but costs a group join, ~3 s on the dev
/// cluster, and leaves committed offsets behind for every instance id). Start positions:
/// readings and stats from `now - historyDuration` (the hub warms its history after a
/// restart), alerts, status and operator records from the beginning (small topics; the hub
/// needs every open alert and the latest notes). Nothing is committed.
///
/// With connection state recovery on, it also reads `<prefix>hub-sessions` from the beginning
/// into the ``HubSessionTable`` and broadcasts through the ``HubFrontier`` (each event carries
/// the Kafka positions the client has seen once it has the event; ``KafkaRecoveryStore``).
public final class HubService: Service, Sendable {
    let configuration: HubConfiguration
    let store: HubStore
    let io: SocketIOServer
    let producer: KafkaProducer
    let readiness: Readiness
    let metrics: HubMetrics
    let logger: Logger
    private let router: HubRecordRouter
    private let frontier: HubFrontier
    private let sessions: HubSessionTable
    private let sessionWriter: HubSessionWriter
    /// Next offset per partition (for the lag gauge).
    private let positions = NIOLockedValueBox<[KafkaTopicPartition: Int64]>([:])

    init(
        configuration: HubConfiguration, store: HubStore, io: SocketIOServer, producer: KafkaProducer,
        readiness: Readiness, metrics: HubMetrics, router: HubRecordRouter, frontier: HubFrontier,
        sessions: HubSessionTable, sessionWriter: HubSessionWriter, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.io = io
        self.producer = producer
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
        self.router = router
        self.frontier = frontier
        self.sessions = sessions
        self.sessionWriter = sessionWriter
        readiness.register("kafka")
        readiness.register("consumer")
    }

    /// The topics whose records become events, in ``HubTopicLayout`` order.
    var inputTopics: [String] {
        let t = configuration.topics
        return [t.readings, t.stats, t.alerts, t.deviceStatus, t.operatorActions]
    }

    /// Every topic the hub reads: the input topics, plus the sessions topic with recovery on.
    var consumedTopics: [String] {
        inputTopics + (configuration.connectionStateRecovery ? [configuration.sessionsTopic] : [])
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.producer.run() }
            group.addTask { try await self.consume() }
            group.addTask { await self.tickLoop() }
            if configuration.connectionStateRecovery {
                group.addTask {
                    await self.sessionWriter.run(producer: self.producer, topic: self.configuration.sessionsTopic, logger: self.logger)
                }
            }
            // The first child to finish (consumer closed on shutdown, or an error) ends the rest.
            do {
                try await group.next()
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    // MARK: - Consuming

    private func consume() async throws {
        let admin = try KafkaAdmin(
            bootstrapServers: configuration.kafkaBrokers, clientID: "fluxgate-hub-\(configuration.instanceID)-admin",
            additionalProperties: configuration.kafkaProperties, logger: logger)
        guard let partitions = try await discoverPartitions(admin: admin) else { return }  // shut down while waiting
        readiness.ready("kafka")
        let warm: Set<String> = [configuration.topics.readings, configuration.topics.stats]
        // Warm partitions start a bounded number of records back from their high watermark;
        // the router skips readings and stats older than `historyDuration`. (A seek by
        // timestamp would be exact, but the dev cluster cannot look up offsets by time.)
        // Start offsets are explicit, so that the broadcast frontier starts from them.
        var assignment: [KafkaTopicPartition: KafkaOffset] = [:]
        var sessionStarts: [Int: Int64] = [:]
        var layout = HubTopicLayout(topics: inputTopics, partitionCounts: Array(repeating: 0, count: inputTopics.count))
        var starts: [KafkaTopicPartition: Int64] = [:]
        for partition in partitions {
            let marks = try? await admin.watermarks(topic: partition.topic, partition: partition.partition)
            if partition.topic == configuration.sessionsTopic {
                assignment[partition] = .beginning
                sessionStarts[partition.partition] = marks?.low ?? 0
                continue
            }
            if let index = layout.index(of: partition.topic) {
                layout.partitionCounts[index] = max(layout.partitionCounts[index], partition.partition + 1)
            }
            let start: Int64
            if let marks {
                start = warm.contains(partition.topic)
                    ? max(marks.low, marks.high - Int64(configuration.warmUpRecordsPerPartition)) : marks.low
                assignment[partition] = .offset(start)
            } else {
                // Unknown position: read from the beginning; a frontier of 0 claims nothing.
                start = 0
                assignment[partition] = .beginning
            }
            starts[partition] = start
        }
        var next = layout.partitionCounts.map { Array(repeating: Int64(0), count: $0) }
        for (partition, start) in starts {
            if let index = layout.index(of: partition.topic) { next[index][partition.partition] = start }
        }
        frontier.start(layout: layout, next: next)
        sessions.start(positions: sessionStarts)
        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: configuration.kafkaBrokers, consumptionStrategy: .partitions(assignment, groupID: nil))
        consumerConfiguration.clientID = "fluxgate-hub-\(configuration.instanceID)"
        consumerConfiguration.additionalProperties = configuration.kafkaProperties.merging(configuration.kafkaConsumerProperties) { $1 }
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumer.run() }
            readiness.ready("consumer")
            for await record in consumer.records {
                handle(record)
            }
            group.cancelAll()
        }
        readiness.notReady("consumer", reason: "stopped")
    }

    /// Lists the partitions of the input topics, retrying every 2 s until all exist.
    private func discoverPartitions(admin: KafkaAdmin) async throws -> [KafkaTopicPartition]? {
        let wanted = Set(consumedTopics)
        var sessionTopicAttempts = 0
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let metadata = try await admin.listTopics()
                let found = metadata.filter { wanted.contains($0.name) && !$0.partitions.isEmpty }
                let partitions = found.flatMap { topic in
                    topic.partitions.map { KafkaTopicPartition(topic: topic.name, partition: $0.id) }
                }
                if found.count == wanted.count { return partitions }
                let missing = wanted.subtracting(found.map(\.name)).sorted()
                if missing == [configuration.sessionsTopic] {
                    // The sessions topic only serves recovery across hubs: after three attempts
                    // to get it created, run without it rather than never become ready.
                    if sessionTopicAttempts >= 3 {
                        logger.error(
                            "running without the hub sessions topic: dashboards recover on this hub only; create it (compacted) and restart",
                            metadata: ["topic": "\(configuration.sessionsTopic)"])
                        return partitions
                    }
                    sessionTopicAttempts += 1
                    await createSessionsTopic(admin: admin)
                    continue
                }
                readiness.notReady("kafka", reason: "missing-topics")
                logger.warning("waiting for Kafka topics", metadata: ["missing": "\(missing.joined(separator: ","))"])
            } catch {
                readiness.notReady("kafka", reason: "unreachable")
                logger.warning("Kafka unreachable; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
        return nil
    }

    /// Gets the sessions topic created: a tombstone written to it auto-creates it where the
    /// cluster allows that (the dev cluster does; CreateTopics hangs there), else CreateTopics
    /// with one partition. On a real cluster, create it compacted beforehand (docs/hub.md).
    private func createSessionsTopic(admin: KafkaAdmin) async {
        let topic = configuration.sessionsTopic
        if (try? await producer.send(KafkaProducerRecord(topic: topic, key: "fluxgate-hub-start", value: []))) != nil { return }
        do {
            try await admin.createTopic(topic, partitions: 1, timeout: .seconds(10))
            logger.info("created the hub sessions topic", metadata: ["topic": "\(topic)"])
        } catch {
            logger.warning(
                "could not create the hub sessions topic; create it (compacted) for recovery across hubs",
                metadata: ["topic": "\(topic)", "error": "\(error)"])
            try? await Task.sleep(for: .seconds(2))
        }
    }

    func handle(_ record: KafkaConsumerRecord) {
        if record.topic == configuration.sessionsTopic {
            sessions.apply(record)
            return
        }
        metrics.consumed[record.topic]?.increment()
        positions.withLockedValue { $0[record.topicPartition] = record.offset + 1 }
        guard let events = router.route(record, now: WallClock.nowMilliseconds()) else {
            metrics.malformedRecords.increment()
            logger.debug(
                "malformed record skipped",
                metadata: ["topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)"])
            frontier.advance(past: record, broadcasting: [], on: io)
            return
        }
        broadcast(events, from: record)
    }

    /// Broadcasts `events` (from `record`, or made by the hub itself when nil) with their
    /// recovery offset.
    func broadcast(_ events: [HubEvent], from record: KafkaConsumerRecord? = nil) {
        frontier.advance(past: record, broadcasting: events, on: io)
        for event in events { metrics.emitted[event.name]?.increment() }
    }

    // MARK: - Housekeeping

    private func tickLoop() async {
        let lagAdmin = try? KafkaAdmin(
            bootstrapServers: configuration.kafkaBrokers, clientID: "fluxgate-hub-\(configuration.instanceID)-lag",
            additionalProperties: configuration.kafkaProperties, logger: logger)
        var ticks = 0
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: configuration.tickInterval)
            let now = WallClock.nowMilliseconds()
            broadcast(store.withState { $0.tick(now: now) })
            sessions.prune(now: now)
            updateGauges()
            ticks += 1
            if ticks % 10 == 0, let lagAdmin { await updateLag(admin: lagAdmin) }
        }
    }

    private func updateGauges() {
        metrics.clients.record(io.connectionCount)
        var device = 0
        var fleet = 0
        for socket in io.mainNamespace.sockets {
            for room in socket.rooms {
                if room.hasPrefix("device:") { device += 1 } else if room.hasPrefix("fleet") { fleet += 1 }
            }
        }
        metrics.deviceSubscriptions.record(device)
        metrics.fleetSubscriptions.record(fleet)
    }

    /// Sum over partitions of (high watermark - next offset read).
    private func updateLag(admin: KafkaAdmin) async {
        let current = positions.withLockedValue { $0 }
        guard !current.isEmpty else { return }
        var lag: Int64 = 0
        for (partition, next) in current {
            if let marks = try? await admin.watermarks(topic: partition.topic, partition: partition.partition, timeout: .seconds(2)) {
                lag += max(0, marks.high - next)
            }
        }
        metrics.consumerLag.record(lag)
    }
}
