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
public final class HubService: Service, Sendable {
    let configuration: HubConfiguration
    let store: HubStore
    let io: SocketIOServer
    let producer: KafkaProducer
    let readiness: Readiness
    let metrics: HubMetrics
    let logger: Logger
    private let router: HubRecordRouter
    /// Next offset per partition (for the lag gauge).
    private let positions = NIOLockedValueBox<[KafkaTopicPartition: Int64]>([:])

    init(
        configuration: HubConfiguration, store: HubStore, io: SocketIOServer, producer: KafkaProducer,
        readiness: Readiness, metrics: HubMetrics, logger: Logger
    ) {
        self.configuration = configuration
        self.store = store
        self.io = io
        self.producer = producer
        self.readiness = readiness
        self.metrics = metrics
        self.logger = logger
        self.router = HubRecordRouter(
            topics: configuration.topics, store: store,
            emitAcknowledgedTransitions: configuration.emitAcknowledgedTransitions,
            historyMillis: configuration.historyDuration.milliseconds)
        readiness.register("kafka")
        readiness.register("consumer")
    }

    /// The topics the hub reads.
    var inputTopics: [String] {
        let t = configuration.topics
        return [t.readings, t.stats, t.alerts, t.deviceStatus, t.operatorActions]
    }

    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.producer.run() }
            group.addTask { try await self.consume() }
            group.addTask { await self.tickLoop() }
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
        var assignment: [KafkaTopicPartition: KafkaOffset] = [:]
        for partition in partitions {
            if warm.contains(partition.topic) {
                if let marks = try? await admin.watermarks(topic: partition.topic, partition: partition.partition) {
                    assignment[partition] = .offset(max(marks.low, marks.high - Int64(configuration.warmUpRecordsPerPartition)))
                } else {
                    assignment[partition] = .end
                }
            } else {
                assignment[partition] = .beginning
            }
        }
        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: configuration.kafkaBrokers, consumptionStrategy: .partitions(assignment, groupID: nil))
        consumerConfiguration.clientID = "fluxgate-hub-\(configuration.instanceID)"
        consumerConfiguration.additionalProperties = configuration.kafkaProperties
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
        let wanted = Set(inputTopics)
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let metadata = try await admin.listTopics()
                let found = metadata.filter { wanted.contains($0.name) && !$0.partitions.isEmpty }
                if found.count == wanted.count {
                    return found.flatMap { topic in topic.partitions.map { KafkaTopicPartition(topic: topic.name, partition: $0.id) } }
                }
                let missing = wanted.subtracting(found.map(\.name)).sorted()
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

    func handle(_ record: KafkaConsumerRecord) {
        metrics.consumed[record.topic]?.increment()
        positions.withLockedValue { $0[record.topicPartition] = record.offset + 1 }
        guard let events = router.route(record, now: WallClock.nowMilliseconds()) else {
            metrics.malformedRecords.increment()
            logger.debug(
                "malformed record skipped",
                metadata: ["topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)"])
            return
        }
        broadcast(events)
    }

    func broadcast(_ events: [HubEvent]) {
        for event in events {
            io.to(HubRooms.fleet).to(event.rooms).emit(event.name.rawValue, [event.payload])
            metrics.emitted[event.name]?.increment()
        }
    }

    // MARK: - Housekeeping

    private func tickLoop() async {
        let lagAdmin = try? KafkaAdmin(
            bootstrapServers: configuration.kafkaBrokers, clientID: "fluxgate-hub-\(configuration.instanceID)-lag",
            additionalProperties: configuration.kafkaProperties, logger: logger)
        var ticks = 0
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: configuration.tickInterval)
            broadcast(store.withState { $0.tick(now: WallClock.nowMilliseconds()) })
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
