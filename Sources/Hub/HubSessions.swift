import Kafka
import Logging
import NIOConcurrencyHelpers
import SocketIO

/// A dashboard session as written to `<prefix>hub-sessions` (key = the private session id
/// `pid`, compacted; an empty value deletes it): enough for any hub instance to restore the
/// socket on a recovering reconnect.
///
/// `{"pid": "...", "sid": "...", "rooms": ["device:d1", "fleet"], "ts": 1764400000000}`
struct HubSessionRecord: Sendable, Equatable {
    var pid: String
    var sid: String
    var rooms: [String]
    /// When it was written (epoch ms).
    var ts: Int64

    static let maxRooms = 2048

    func encoded() -> [UInt8] {
        let json: JSONValue = .object([
            ("pid", .string(pid)), ("sid", .string(sid)), ("rooms", .array(rooms.map { .string($0) })),
            ("ts", .int(ts)),
        ])
        return Array(json.jsonText.utf8)
    }

    static func decode(_ bytes: [UInt8]) -> HubSessionRecord? {
        guard let json = JSONValue.parse(bytes: bytes), let pid = json["pid"]?.stringValue,
            let sid = json["sid"]?.stringValue,
            let rooms = json["rooms"]?.arrayValue, rooms.count <= maxRooms, let ts = json["ts"]?.numberValue
        else { return nil }
        let names = rooms.compactMap(\.stringValue)
        guard names.count == rooms.count, !pid.isEmpty, !sid.isEmpty else { return nil }
        return HubSessionRecord(pid: pid, sid: sid, rooms: names, ts: Int64(ts))
    }
}

/// Why a recovering reconnect was not recovered; sent to the client in `history-lost`.
struct RecoveryFailure: Error, Sendable, Equatable {
    /// `retention` (Kafka no longer holds what was missed) or `other` (hub-api.md 1.4).
    var reason: String
    /// What happened, for people.
    var message: String
    /// The devices the lost session followed, or `["*"]`.
    var devices: [String]

    static func unknownSession() -> RecoveryFailure {
        RecoveryFailure(
            reason: "other",
            message:
                "the hub does not know this session (expired, never subscribed, or from another deployment); subscribe again",
            devices: ["*"])
    }
}

/// Every hub's copy of `<prefix>hub-sessions`, filled by the hub's consumer, plus the failures of
/// recent recovery attempts (until the connection handler reports them). Bounded: at most
/// `maxSessions` sessions, each kept `retentionMillis` after it was last written.
final class HubSessionTable: Sendable {
    struct State {
        var sessions: [String: HubSessionRecord] = [:]
        /// Pids in the order they were (re)written, for pruning; may hold stale duplicates.
        /// Entries before `orderStart` are consumed.
        var order: [(pid: String, ts: Int64)] = []
        var orderStart = 0
        /// Next offset to read per sessions partition; nil until the consumer starts.
        var positions: [Int: Int64]?
        var failures: [String: RecoveryFailure] = [:]

        var orderCount: Int { order.count - orderStart }

        mutating func popOldest() -> (pid: String, ts: Int64)? {
            guard orderStart < order.count else { return nil }
            defer {
                orderStart += 1
                if orderStart > 1024, orderStart * 2 > order.count {
                    order.removeFirst(orderStart)
                    orderStart = 0
                }
            }
            return order[orderStart]
        }
    }

    let maxSessions: Int
    let retentionMillis: Int64
    static let maxFailures = 1024
    private let state = NIOLockedValueBox(State())

    init(maxSessions: Int, retentionMillis: Int64) {
        self.maxSessions = max(1, maxSessions)
        self.retentionMillis = retentionMillis
    }

    /// Sets where the consumer starts reading each sessions partition.
    func start(positions: [Int: Int64]) {
        state.withLockedValue { $0.positions = positions }
    }

    /// Applies a record of the sessions topic.
    func apply(_ record: KafkaConsumerRecord) {
        let pid = record.key.map { String(decoding: $0, as: UTF8.self) }
        let session = record.value.isEmpty ? nil : HubSessionRecord.decode(record.value)
        state.withLockedValue { state in
            let current = state.positions?[record.partition] ?? 0
            state.positions?[record.partition] = max(current, record.offset + 1)
            guard let pid, !pid.isEmpty else { return }
            if record.value.isEmpty {
                state.sessions[pid] = nil
            } else if let session, session.pid == pid {
                Self.put(session, into: &state, maxSessions: maxSessions)
            }
        }
    }

    /// Records a session written by this hub at once (the consumer reads it back later).
    func put(_ session: HubSessionRecord) {
        state.withLockedValue { Self.put(session, into: &$0, maxSessions: maxSessions) }
    }

    private static func put(_ session: HubSessionRecord, into state: inout State, maxSessions: Int) {
        let previous = state.sessions.updateValue(session, forKey: session.pid)
        if previous?.ts != session.ts { state.order.append((session.pid, session.ts)) }
        while state.sessions.count > maxSessions || state.orderCount > 4 * maxSessions,
            let oldest = state.popOldest()
        {
            if state.sessions[oldest.pid]?.ts == oldest.ts { state.sessions[oldest.pid] = nil }
        }
    }

    /// Forgets a session that ended for good (explicit disconnect).
    func remove(pid: String) {
        state.withLockedValue { _ = $0.sessions.removeValue(forKey: pid) }
    }

    func session(pid: String) -> HubSessionRecord? {
        state.withLockedValue { $0.sessions[pid] }
    }

    /// Next offset to read per sessions partition; nil until the hub's consumer starts (the
    /// table is incomplete until then).
    var positions: [Int: Int64]? { state.withLockedValue { $0.positions } }

    /// Forgets sessions last written more than the retention ago.
    func prune(now: Int64) {
        let before = now - retentionMillis
        state.withLockedValue { state in
            while state.orderStart < state.order.count, state.order[state.orderStart].ts < before,
                let oldest = state.popOldest()
            {
                if state.sessions[oldest.pid]?.ts == oldest.ts { state.sessions[oldest.pid] = nil }
            }
        }
    }

    func recordFailure(pid: String, _ failure: RecoveryFailure) {
        state.withLockedValue { state in
            // Normally taken at once by the connection handler; the cap only guards against leaks.
            if state.failures.count >= Self.maxFailures { state.failures.removeAll() }
            state.failures[pid] = failure
        }
    }

    /// Takes the failure recorded for `pid`, if any.
    func takeFailure(pid: String) -> RecoveryFailure? {
        state.withLockedValue { $0.failures.removeValue(forKey: pid) }
    }
}

/// Writes session records to the sessions topic in the background, so that `subscribe` never
/// waits for Kafka: records wait in a map (the latest per `pid` wins) and one loop, run by
/// ``HubService``, sends whatever is waiting as one batch. A session Kafka did not take (or not
/// yet) is recoverable on this hub only (its table has it at once).
final class HubSessionWriter: Sendable {
    /// Record value per pid; empty = tombstone (the session ended).
    private let pending = NIOLockedValueBox<[String: [UInt8]]>([:])
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init() {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func write(_ record: HubSessionRecord) {
        pending.withLockedValue { $0[record.pid] = record.encoded() }
        wake.yield()
    }

    /// Deletes the session from the topic (a tombstone).
    func delete(pid: String) {
        pending.withLockedValue { $0[pid] = [] }
        wake.yield()
    }

    /// Sends waiting records until cancelled.
    func run(producer: KafkaProducer, topic: String, logger: Logger) async {
        for await _ in wakes {
            let batch = pending.withLockedValue { pending in
                defer { pending = [:] }
                return pending
            }
            guard !batch.isEmpty else { continue }
            let records = batch.map { KafkaProducerRecord(topic: topic, key: $0.key, value: $0.value) }
            let failed: Int
            do {
                failed = try await producer.send(batch: records).filter { (try? $0.get()) == nil }.count
            } catch {
                failed = records.count
            }
            if failed > 0 {
                logger.warning(
                    "Kafka did not take dashboard sessions; they can recover on this hub only",
                    metadata: ["count": "\(failed)", "topic": "\(topic)"])
            }
        }
    }
}
