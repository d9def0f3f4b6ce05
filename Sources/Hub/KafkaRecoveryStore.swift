import Kafka
import Logging
import NIOConcurrencyHelpers
import SocketIO
import Telemetry

/// Connection state recovery backed by Kafka, so that a dashboard can recover on the same hub,
/// on a restarted hub or on another hub instance (docs/hub.md "Recovery").
///
/// - Offsets: every broadcast carries a ``RecoveryOffset`` (the hub's broadcast frontier).
/// - Sessions: `<prefix>hub-sessions` (key = `pid`), written on `subscribe`/`unsubscribe` and
///   read by every hub into its ``HubSessionTable``; nothing is kept per broadcast (`append` is
///   a no-op).
/// - Replay: the records from the client's frontier up to this hub's frontier at the moment of
///   the reconnect (the splice point) are read from Kafka with a short-lived consumer (manual
///   assignment), filtered by the session's rooms and turned into events as the live path does.
///   Live broadcasts held during the replay are dropped when their source record lies below the
///   splice point (the replay has them), so nothing is missed or sent twice, in order per
///   partition (hence per device).
/// - Failure (unknown session, offset not from a hub, partitions changed, Kafka no longer holds
///   the start, too many missed events, timeout): the client gets a fresh session and the
///   connection handler sends `history-lost` with the reason recorded here.
final class KafkaRecoveryStore: SocketIORecoveryStore {
    let frontier: HubFrontier
    let sessions: HubSessionTable
    let router: HubRecordRouter
    let admin: KafkaAdmin
    let configuration: HubConfiguration
    let logger: Logger
    /// Recoveries reading Kafka now (at most `maxConcurrentRecoveries`).
    private let running = NIOLockedValueBox(0)

    init(
        frontier: HubFrontier, sessions: HubSessionTable, router: HubRecordRouter, admin: KafkaAdmin,
        configuration: HubConfiguration, logger: Logger
    ) {
        self.frontier = frontier
        self.sessions = sessions
        self.router = router
        self.admin = admin
        self.configuration = configuration
        self.logger = logger
    }

    // MARK: - SocketIORecoveryStore

    func makeOffset() -> String { frontier.currentOffset() }

    func append(_ packet: RecoverablePacket) {}

    /// A socket of this hub dropped: keep its rooms (already in Kafka since its last subscribe).
    func save(_ session: RecoverableSession) {
        sessions.put(
            HubSessionRecord(
                pid: session.pid, sid: session.id, rooms: session.rooms.sorted(), ts: WallClock.nowMilliseconds()))
    }

    func takeSession(pid: String) async -> RecoverableSession? {
        if let found = sessions.session(pid: pid) { return Self.recoverable(found) }
        // Written by another hub moments ago? Read the sessions topic up to its current end.
        await catchUpWithSessions()
        if let found = sessions.session(pid: pid) { return Self.recoverable(found) }
        sessions.recordFailure(pid: pid, .unknownSession())
        return nil
    }

    /// Not used: ``replay(after:session:)`` answers.
    func packets(after offset: String, namespace: String) async -> [RecoverablePacket]? { nil }

    func replay(after offset: String, session: RecoverableSession) async -> RecoveryReplay? {
        switch await replayMissed(after: offset, rooms: session.rooms) {
        case .success(let replay):
            return replay
        case .failure(let failure):
            logger.info(
                "connection state recovery failed",
                metadata: ["reason": "\(failure.reason)", "detail": "\(failure.message)"])
            sessions.recordFailure(pid: session.pid, failure)
            return nil
        }
    }

    static func recoverable(_ record: HubSessionRecord) -> RecoverableSession {
        RecoverableSession(
            id: record.sid, pid: record.pid, namespace: "/", rooms: Set(record.rooms), data: .null,
            disconnectedAt: .now)
    }

    // MARK: - Sessions

    /// Waits (at most the recovery timeout, 5 s at most) until the consumer has read every
    /// sessions partition up to the high watermark it has now.
    private func catchUpWithSessions() async {
        let deadline = ContinuousClock.now + min(configuration.recoveryTimeout, .seconds(5))
        // A hub that just started: wait until its consumer reads the sessions topic.
        while sessions.positions == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        var targets: [Int: Int64] = [:]
        for partition in (sessions.positions ?? [:]).keys {
            if let marks = try? await admin.watermarks(
                topic: configuration.sessionsTopic, partition: partition, timeout: .seconds(2))
            {
                targets[partition] = marks.high
            }
        }
        while ContinuousClock.now < deadline {
            let positions = sessions.positions ?? [:]
            if targets.allSatisfy({ positions[$0.key, default: 0] >= $0.value }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: - Replay

    private func replayMissed(after offset: String, rooms: Set<String>) async -> Result<RecoveryReplay, RecoveryFailure>
    {
        let deadline = ContinuousClock.now + configuration.recoveryTimeout
        let filter = RoomFilter(rooms: rooms)
        func failure(_ reason: String, _ message: String) -> Result<RecoveryReplay, RecoveryFailure> {
            .failure(RecoveryFailure(reason: reason, message: message, devices: filter.lostDevices))
        }
        guard let client = RecoveryOffset.decode(offset) else {
            return failure("other", "the offset was not written by a Fluxgate hub; subscribe again")
        }
        // The splice point: this hub's frontier once it has broadcast at least what the client
        // saw (a hub that just started may still be behind the one the client came from).
        var splice: [[Int64]]
        while true {
            if let (layout, next) = frontier.snapshot() {
                guard layout.fits(client.frontier) else {
                    return failure(
                        "other", "the topics' partitions changed since the offset was written; subscribe again")
                }
                if Self.covers(next, client.frontier) {
                    splice = next
                    break
                }
            }
            if ContinuousClock.now >= deadline {
                return failure("other", "this hub did not catch up with Kafka in time; subscribe again")
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        guard let layout = frontier.snapshot()?.layout else { return failure("other", "the hub is not reading Kafka") }
        // Wait for a turn (polling: the wait is short and bounded by the deadline).
        let limit = configuration.maxConcurrentRecoveries
        while !running.withLockedValue({ count in
            guard count < limit else { return false }
            count += 1
            return true
        }) {
            if ContinuousClock.now >= deadline {
                return failure("other", "too many dashboards are recovering at once on this hub; subscribe again")
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        defer { running.withLockedValue { $0 -= 1 } }
        var ranges: [KafkaTopicPartition: Range<Int64>] = [:]
        for (topic, partitions) in client.frontier.enumerated() {
            for (partition, from) in partitions.enumerated() where from < splice[topic][partition] {
                ranges[KafkaTopicPartition(topic: layout.topics[topic], partition: partition)] =
                    from..<splice[topic][partition]
            }
        }
        // Every partition, not only those with a range: a hub that is itself behind (or whose
        // consumer was reset past deleted records) must not hide records Kafka no longer holds.
        for (topic, partitions) in client.frontier.enumerated() {
            for (partition, from) in partitions.enumerated() {
                let name = layout.topics[topic]
                guard let marks = try? await admin.watermarks(topic: name, partition: partition, timeout: .seconds(5))
                else { return failure("other", "Kafka did not answer in time; subscribe again") }
                if marks.low > from {
                    return failure(
                        "retention",
                        "Kafka no longer holds \(name)[\(partition)] from offset \(from) (it starts at \(marks.low)); subscribe again"
                    )
                }
            }
        }
        let packets: [RecoverablePacket]
        switch await read(ranges, layout: layout, from: client.frontier, filter: filter, deadline: deadline) {
        case .success(let value): packets = value
        case .failure(let error):
            return .failure(RecoveryFailure(reason: error.reason, message: error.message, devices: filter.lostDevices))
        }
        let spliceCopy = splice
        return .success(
            RecoveryReplay(packets: packets) { offset in
                // A live broadcast held during the replay: covered when its record is below the splice point.
                guard let source = RecoveryOffset.decode(offset)?.source, source.topic < spliceCopy.count,
                    source.partition < spliceCopy[source.topic].count
                else { return false }
                return source.offset < spliceCopy[source.topic][source.partition]
            })
    }

    /// Whether frontier `a` is at or past `b` everywhere (same shape).
    static func covers(_ a: [[Int64]], _ b: [[Int64]]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { x, y in x.count == y.count && zip(x, y).allSatisfy { $0 >= $1 } }
    }

    /// Reads `ranges` and turns the records of the session's devices into packets, each with the
    /// offset a client holds once it has them (its frontier advanced by what was read so far).
    private func read(
        _ ranges: [KafkaTopicPartition: Range<Int64>], layout: HubTopicLayout, from start: [[Int64]],
        filter: RoomFilter,
        deadline: ContinuousClock.Instant
    ) async -> Result<[RecoverablePacket], RecoveryFailure> {
        guard !ranges.isEmpty else { return .success([]) }
        var consumerConfiguration = KafkaConsumerConfiguration(
            bootstrapServers: configuration.kafkaBrokers,
            consumptionStrategy: .partitions(ranges.mapValues { .offset($0.lowerBound) }, groupID: nil))
        consumerConfiguration.clientID = "fluxgate-hub-\(configuration.instanceID)-recovery"
        consumerConfiguration.additionalProperties = configuration.kafkaProperties.merging(
            configuration.kafkaConsumerProperties) { $1 }
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        } catch {
            return .failure(RecoveryFailure(reason: "other", message: "could not read Kafka: \(error)", devices: []))
        }
        let maxEvents = configuration.maxRecoveredEvents
        let router = self.router
        let timeout = deadline - ContinuousClock.now
        return await withTaskGroup(of: Result<[RecoverablePacket], RecoveryFailure>?.self) { group in
            group.addTask {
                try? await consumer.run()
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                consumer.close()
                return nil
            }
            group.addTask {
                var remaining = ranges
                var position = start
                var packets: [RecoverablePacket] = []
                var seenReadings = Set<String>()
                let now = WallClock.nowMilliseconds()
                for await record in consumer.records {
                    guard let range = remaining[record.topicPartition] else { continue }
                    if record.offset >= range.upperBound - 1 { remaining[record.topicPartition] = nil }
                    if record.offset < range.upperBound, let topic = layout.index(of: record.topic) {
                        position[topic][record.partition] = record.offset + 1
                        if filter.mayConcern(key: record.key) {
                            for event in router.replayEvents(record, now: now) where filter.receives(event) {
                                if event.name == .reading {
                                    let key =
                                        "\(event.device.rawValue)|\(event.payload["ts"]?.numberValue ?? 0)|\(event.payload["seq"]?.numberValue ?? -1)"
                                    guard seenReadings.insert(key).inserted else { continue }
                                }
                                let offset = RecoveryOffset(
                                    source: RecordPosition(
                                        topic: topic, partition: record.partition, offset: record.offset),
                                    frontier: position)
                                packets.append(
                                    RecoverablePacket(
                                        namespace: "/", rooms: Set(event.rooms), except: [], event: event.name.rawValue,
                                        arguments: [event.payload], offset: offset.encoded))
                            }
                            if packets.count > maxEvents {
                                consumer.close()
                                return .failure(
                                    RecoveryFailure(
                                        reason: "other",
                                        message: "more than \(maxEvents) events were missed; reloading is faster",
                                        devices: []))
                            }
                        }
                    }
                    if remaining.isEmpty { break }
                }
                consumer.close()
                guard remaining.isEmpty else {
                    return .failure(
                        RecoveryFailure(
                            reason: "other", message: "could not read the missed events from Kafka in time", devices: []
                        ))
                }
                return .success(packets)
            }
            var result: Result<[RecoverablePacket], RecoveryFailure> = .failure(
                RecoveryFailure(reason: "other", message: "the replay did not finish", devices: []))
            for await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            return result
        }
    }
}

/// Which replayed records and events concern a session, from its rooms.
struct RoomFilter: Sendable {
    let rooms: Set<String>
    let fleet: Bool
    let devices: Set<String>

    init(rooms: Set<String>) {
        self.rooms = rooms
        fleet = rooms.contains { $0 == HubRooms.fleet || $0.hasPrefix(HubRooms.fleet + ":") }
        devices = Set(rooms.compactMap { $0.hasPrefix("device:") ? String($0.dropFirst(7)) : nil })
    }

    /// The devices to name in `history-lost`.
    var lostDevices: [String] { fleet || devices.isEmpty ? ["*"] : devices.sorted() }

    /// Whether a record with this key (the device id) may produce an event for the session.
    func mayConcern(key: [UInt8]?) -> Bool {
        if fleet { return true }
        guard let key else { return false }
        return devices.contains(String(decoding: key, as: UTF8.self))
    }

    func receives(_ event: HubEvent) -> Bool {
        event.rooms.contains { rooms.contains($0) }
    }
}
