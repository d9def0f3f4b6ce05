import DequeModule
import NIOConcurrencyHelpers
import NIOCore

/// A broadcast kept for connection state recovery.
public struct RecoverablePacket: Sendable {
    /// The namespace it was emitted in.
    public var namespace: String
    /// Rooms it was sent to; empty means the whole namespace.
    public var rooms: Set<String>
    /// Rooms excluded from it.
    public var except: Set<String>
    /// The event name.
    public var event: String
    /// The arguments, without the offset.
    public var arguments: [JSONValue]
    /// The offset; clients send the last one they saw when they reconnect.
    public var offset: String

    public init(
        namespace: String, rooms: Set<String>, except: Set<String>, event: String, arguments: [JSONValue],
        offset: String
    ) {
        self.namespace = namespace
        self.rooms = rooms
        self.except = except
        self.event = event
        self.arguments = arguments
        self.offset = offset
    }
}

/// What is kept of a socket that disconnected and may come back.
public struct RecoverableSession: Sendable {
    /// The socket id the client will get back.
    public var id: String
    /// The private session id the client presents.
    public var pid: String
    /// The namespace.
    public var namespace: String
    /// Rooms it was in (without its own id room).
    public var rooms: Set<String>
    /// `SocketIOSocket.data` at disconnection.
    public var data: JSONValue
    /// When it disconnected.
    public var disconnectedAt: ContinuousClock.Instant

    public init(
        id: String, pid: String, namespace: String, rooms: Set<String>, data: JSONValue,
        disconnectedAt: ContinuousClock.Instant
    ) {
        self.id = id
        self.pid = pid
        self.namespace = namespace
        self.rooms = rooms
        self.data = data
        self.disconnectedAt = disconnectedAt
    }
}

/// What a recovering socket missed, as answered by ``SocketIORecoveryStore/replay(after:session:)``.
public struct RecoveryReplay: Sendable {
    /// The missed broadcasts, oldest first (filtered by the session's rooms afterwards).
    public var packets: [RecoverablePacket]
    /// Whether a live broadcast (by its offset) that arrived while the replay was being read is
    /// already covered by it: such broadcasts are dropped, the others follow the replay.
    public var isReplayed: @Sendable (_ offset: String) -> Bool

    public init(packets: [RecoverablePacket], isReplayed: @escaping @Sendable (_ offset: String) -> Bool) {
        self.packets = packets
        self.isReplayed = isReplayed
    }

    /// A replay whose live duplicates are recognised by carrying one of the packets' offsets.
    public init(packets: [RecoverablePacket]) {
        let offsets = Set(packets.map(\.offset))
        self.init(packets: packets, isReplayed: { offsets.contains($0) })
    }
}

/// Storage for connection state recovery. Implement it to back recovery with a durable log
/// (for example Kafka offsets): pass explicit offsets to `SocketIOBroadcast.emit(_:_:offset:)`,
/// ignore `append`, and answer ``replay(after:session:)`` by reading the log (an offset can then
/// stand for a position in several logs, and live broadcasts held during the replay are
/// de-duplicated by the store's own rule, `RecoveryReplay.isReplayed`).
public protocol SocketIORecoveryStore: Sendable {
    /// A new unique offset for a broadcast emitted without an explicit one.
    func makeOffset() -> String
    /// Keeps a broadcast for replay. Called before the broadcast is delivered.
    func append(_ packet: RecoverablePacket)
    /// Keeps a disconnected socket's state.
    func save(_ session: RecoverableSession)
    /// Takes (removes and returns) the saved state for `pid`, if it is still recoverable.
    func takeSession(pid: String) async -> RecoverableSession?
    /// Broadcasts of `namespace` after `offset`, oldest first; nil if `offset` is unknown or
    /// no longer held (the client then gets a fresh session).
    func packets(after offset: String, namespace: String) async -> [RecoverablePacket]?
    /// What `session` (just taken with ``takeSession(pid:)`` and already joined to its rooms, so
    /// live broadcasts to it are held back) missed after `offset`; nil if that can no longer be
    /// told (the client then gets a fresh session). Default: ``packets(after:namespace:)``, with
    /// live duplicates recognised by offset.
    func replay(after offset: String, session: RecoverableSession) async -> RecoveryReplay?
}

extension SocketIORecoveryStore {
    public func replay(after offset: String, session: RecoverableSession) async -> RecoveryReplay? {
        guard let packets = await packets(after: offset, namespace: session.namespace) else { return nil }
        return RecoveryReplay(packets: packets)
    }
}

/// The default recovery store: the most recent `maxPackets` broadcasts and the sessions
/// disconnected less than `maxDisconnectionDuration` ago (at most `maxSessions`), in memory.
public final class InMemoryRecoveryStore: SocketIORecoveryStore {
    struct State {
        var nextOffset: UInt64 = 1
        var packets = Deque<RecoverablePacket>()
        var sessions: [String: RecoverableSession] = [:]
        var sessionOrder = Deque<String>()
    }

    let maxPackets: Int
    let maxSessions: Int
    let maxDisconnectionDuration: Duration
    private let state = NIOLockedValueBox(State())

    /// - Parameters:
    ///   - maxPackets: broadcasts kept for replay. Default 10 000.
    ///   - maxSessions: disconnected sessions kept. Default 10 000.
    ///   - maxDisconnectionDuration: how long a session is kept. Default 2 minutes.
    public init(maxPackets: Int = 10_000, maxSessions: Int = 10_000, maxDisconnectionDuration: Duration = .seconds(120)) {
        self.maxPackets = max(1, maxPackets)
        self.maxSessions = max(1, maxSessions)
        self.maxDisconnectionDuration = maxDisconnectionDuration
    }

    public func makeOffset() -> String {
        // Increasing integers: unique for the lifetime of this store.
        state.withLockedValue { state in
            defer { state.nextOffset += 1 }
            return String(state.nextOffset)
        }
    }

    public func append(_ packet: RecoverablePacket) {
        state.withLockedValue { state in
            state.packets.append(packet)
            if state.packets.count > maxPackets { state.packets.removeFirst() }
        }
    }

    public func save(_ session: RecoverableSession) {
        state.withLockedValue { state in
            if state.sessions.updateValue(session, forKey: session.pid) == nil {
                state.sessionOrder.append(session.pid)
            }
            while state.sessionOrder.count > maxSessions, let oldest = state.sessionOrder.popFirst() {
                state.sessions.removeValue(forKey: oldest)
            }
        }
    }

    public func takeSession(pid: String) async -> RecoverableSession? {
        let now = ContinuousClock.now
        return state.withLockedValue { state in
            // Drop expired sessions from the front (they were saved in time order).
            while let oldest = state.sessionOrder.first {
                guard let session = state.sessions[oldest] else {
                    state.sessionOrder.removeFirst()
                    continue
                }
                guard now - session.disconnectedAt > maxDisconnectionDuration else { break }
                state.sessions.removeValue(forKey: oldest)
                state.sessionOrder.removeFirst()
            }
            return state.sessions.removeValue(forKey: pid)
        }
    }

    public func packets(after offset: String, namespace: String) async -> [RecoverablePacket]? {
        state.withLockedValue { state in
            guard let index = state.packets.firstIndex(where: { $0.offset == offset }) else { return nil }
            return state.packets[(index + 1)...].filter { $0.namespace == namespace }
        }
    }
}
