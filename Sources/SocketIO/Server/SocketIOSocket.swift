import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// Handles an event: its arguments and, when the client asked for one, the acknowledgement.
public typealias SocketIOEventHandler = @Sendable (_ arguments: [JSONValue], _ ack: SocketIOAck?) async -> Void

/// One client connected to one namespace.
///
/// Event handlers of a socket run one at a time on its connection's read path: a handler that
/// awaits holds back further packets of the same connection (backpressure), so do not await
/// `emitWithAck` of the same socket from inside its own event handler.
public final class SocketIOSocket: Sendable {
    /// The socket id (also a room the socket is always in).
    public let id: String
    /// Private session id for connection state recovery (nil when recovery is off).
    public let pid: String?
    /// The namespace.
    public let namespace: SocketIONamespace
    /// The handshake.
    public let handshake: SocketIOHandshake
    /// True when this socket was restored by connection state recovery.
    public let recovered: Bool
    let client: SocketIOClient
    private let state: NIOLockedValueBox<State>

    struct State {
        var connected = false
        /// Set once the socket has left (or failed to join) its namespace.
        var gone = false
        var data: JSONValue = .null
        var handlers: [String: SocketIOEventHandler] = [:]
        var anyHandler: (@Sendable (_ event: String, _ arguments: [JSONValue], _ ack: SocketIOAck?) async -> Void)?
        var disconnectHandlers: [@Sendable (SocketIODisconnectReason) -> Void] = []
        var nextAckID: UInt64 = 0
        var pendingAcks: [UInt64: CheckedContinuation<[JSONValue], any Error>] = [:]
        /// While recovering, outbound frames wait here (with their offsets) until the missed
        /// packets are queued.
        var holding: [(frames: [EngineFrame], offset: String?)]?
    }

    init(
        id: String, pid: String?, namespace: SocketIONamespace, handshake: SocketIOHandshake, recovered: Bool,
        client: SocketIOClient, data: JSONValue, holding: Bool
    ) {
        self.id = id
        self.pid = pid
        self.namespace = namespace
        self.handshake = handshake
        self.recovered = recovered
        self.client = client
        var state = State()
        state.data = data
        state.holding = holding ? [] : nil
        self.state = NIOLockedValueBox(state)
    }

    /// Free-form data attached to the socket (kept across connection state recovery).
    public var data: JSONValue {
        get { state.withLockedValue { $0.data } }
        set { state.withLockedValue { $0.data = newValue } }
    }

    /// True until the socket disconnects.
    public var connected: Bool { state.withLockedValue { $0.connected } }

    /// The rooms the socket is in (including its own id).
    public var rooms: Set<String> { namespace.rooms(of: self) }

    /// The Engine.IO session id of the underlying connection.
    public var engineSessionID: String { client.session.id }

    /// Registers the handler for `event` (replacing any earlier one).
    public func on(_ event: String, _ handler: @escaping SocketIOEventHandler) {
        state.withLockedValue { $0.handlers[event] = handler }
    }

    /// Registers a handler for events that have no specific handler.
    public func onAny(_ handler: @escaping @Sendable (String, [JSONValue], SocketIOAck?) async -> Void) {
        state.withLockedValue { $0.anyHandler = handler }
    }

    /// Registers a callback for when the socket disconnects (called once, synchronously).
    public func onDisconnect(_ handler: @escaping @Sendable (SocketIODisconnectReason) -> Void) {
        state.withLockedValue { $0.disconnectHandlers.append(handler) }
    }

    /// Joins rooms.
    public func join(_ rooms: String...) { namespace.join(self, rooms) }

    /// Joins rooms.
    public func join(_ rooms: [String]) { namespace.join(self, rooms) }

    /// Leaves a room.
    public func leave(_ room: String) { namespace.leave(self, room) }

    /// A broadcast to `room` that leaves out this socket.
    public func to(_ room: String) -> SocketIOBroadcast {
        SocketIOBroadcast(namespace: namespace).to(room).except(id)
    }

    /// Emits an event to this socket only.
    public func emit(_ event: String, _ arguments: JSONValue...) {
        emit(event, arguments)
    }

    /// Emits an event to this socket only.
    public func emit(_ event: String, _ arguments: [JSONValue]) {
        deliver(SocketIOCodec.encode(type: .event, namespace: namespace.name, data: .array([.string(event)] + arguments)))
    }

    /// Emits an event and waits for the client's acknowledgement.
    /// - Throws: `SocketIOAckError.timeout` after `timeout` (default: the server's
    ///   `ackTimeout`), `SocketIOAckError.disconnected` if the socket disconnects first.
    public func emitWithAck(_ event: String, _ arguments: [JSONValue], timeout: Duration? = nil) async throws
        -> [JSONValue]
    {
        let timeout = timeout ?? namespace.server.configuration.ackTimeout
        let id = state.withLockedValue { state -> UInt64? in
            guard state.connected else { return nil }
            defer { state.nextAckID += 1 }
            return state.nextAckID
        }
        guard let id else { throw SocketIOAckError.disconnected }
        let timer = client.session.eventLoop.scheduleTask(in: timeout.timeAmount) { [self] in
            failAck(id, SocketIOAckError.timeout)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let registered = state.withLockedValue { state -> Bool in
                guard state.connected else { return false }
                state.pendingAcks[id] = continuation
                return true
            }
            guard registered else {
                continuation.resume(throwing: SocketIOAckError.disconnected)
                return
            }
            deliver(
                SocketIOCodec.encode(
                    type: .event, namespace: namespace.name, id: id, data: .array([.string(event)] + arguments)))
        }
    }

    /// Leaves the namespace (the client gets a DISCONNECT packet); with `closeConnection`
    /// the whole connection is closed.
    public func disconnect(closeConnection: Bool = false) {
        deliver(SocketIOCodec.encode(type: .disconnect, namespace: namespace.name, data: nil))
        if closeConnection {
            didDisconnect(.forcedServerClose)
            client.session.close()
        } else {
            didDisconnect(.serverNamespaceDisconnect)
        }
    }

    // MARK: - Internals

    private func failAck(_ id: UInt64, _ error: any Error) {
        let continuation = state.withLockedValue { $0.pendingAcks.removeValue(forKey: id) }
        continuation?.resume(throwing: error)
    }

    /// Marks the socket connected; false if it has already been disconnected.
    @discardableResult
    func markConnected() -> Bool {
        state.withLockedValue { state in
            guard !state.gone else { return false }
            state.connected = true
            return true
        }
    }

    /// Queues frames for the client (held back while a recovery replay is being prepared).
    func deliver(_ frames: [EngineFrame], offset: String? = nil) {
        let held = state.withLockedValue { state -> Bool in
            guard state.holding != nil else { return false }
            state.holding?.append((frames: frames, offset: offset))
            return true
        }
        if !held { client.session.enqueue(frames) }
    }

    /// Queues the missed packets, then whatever was held back except what `isReplayed` says the
    /// replay already covered, and switches to direct delivery.
    func finishRecovery(missed: [EngineFrame], isReplayed: @Sendable (String) -> Bool) {
        var frames = missed
        while true {
            // Frames are queued while `holding` is still set, so nothing overtakes them.
            if !frames.isEmpty {
                client.session.enqueue(frames)
                frames = []
            }
            let batch = state.withLockedValue { state -> [(frames: [EngineFrame], offset: String?)]? in
                guard let held = state.holding, !held.isEmpty else {
                    state.holding = nil
                    return nil
                }
                state.holding = []
                return held
            }
            guard let batch else { return }
            for item in batch where item.offset.map({ !isReplayed($0) }) ?? true {
                frames.append(contentsOf: item.frames)
            }
        }
    }

    func handleEvent(_ elements: [JSONValue], ackID: UInt64?) async {
        guard case .string(let name)? = elements.first else { return }
        let arguments = Array(elements.dropFirst())
        let (handler, anyHandler) = state.withLockedValue { ($0.handlers[name], $0.anyHandler) }
        let ack = ackID.map { SocketIOAck(socket: self, id: $0) }
        if let handler {
            await handler(arguments, ack)
        } else if let anyHandler {
            await anyHandler(name, arguments, ack)
        }
    }

    func handleAck(_ id: UInt64, _ arguments: [JSONValue]) {
        let continuation = state.withLockedValue { $0.pendingAcks.removeValue(forKey: id) }
        continuation?.resume(returning: arguments)
    }

    /// Leaves the namespace once: rooms, pending acks, recovery snapshot, disconnect handlers.
    func didDisconnect(_ reason: SocketIODisconnectReason) {
        let taken = state.withLockedValue { state -> State? in
            guard !state.gone else { return nil }
            let copy = state
            state.gone = true
            state.connected = false
            state.pendingAcks = [:]
            state.handlers = [:]
            state.anyHandler = nil
            state.disconnectHandlers = []
            state.holding = nil
            return copy
        }
        guard let taken else { return }
        var rooms = namespace.remove(self)
        client.socketDisconnected(self)
        // A socket that never finished joining (refused, or its connection closed while it was
        // being set up) only needs removing.
        guard taken.connected else { return }
        if let recovery = namespace.server.configuration.connectionStateRecovery, let pid, reason.isRecoverable {
            rooms.remove(id)
            recovery.store.save(
                RecoverableSession(
                    id: id, pid: pid, namespace: namespace.name, rooms: rooms, data: taken.data,
                    disconnectedAt: .now))
        }
        for continuation in taken.pendingAcks.values { continuation.resume(throwing: SocketIOAckError.disconnected) }
        for handler in taken.disconnectHandlers { handler(reason) }
    }
}
