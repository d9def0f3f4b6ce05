import NIOConcurrencyHelpers

/// Refuses a connection from a namespace middleware: the client receives a CONNECT_ERROR
/// packet `44{"message":...,"data":...}`.
public struct SocketIOConnectError: Error, Sendable {
    /// Sent as `message`.
    public var message: String
    /// Sent as `data` when present.
    public var data: JSONValue?

    public init(_ message: String, data: JSONValue? = nil) {
        self.message = message
        self.data = data
    }

    var payload: JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "message", value: .string(message))]
        if let data { members.append((key: "data", value: data)) }
        return .object(members)
    }
}

/// Runs before a socket joins a namespace; throw `SocketIOConnectError` to refuse it. The
/// socket is not connected yet: read `socket.handshake` (auth payload, headers, query) and set
/// `socket.data`.
public typealias SocketIOMiddleware = @Sendable (SocketIOSocket) async throws -> Void

/// Called once a socket has joined a namespace: register its event handlers here.
public typealias SocketIOConnectionHandler = @Sendable (SocketIOSocket) async -> Void

/// The middlewares and connection handler of a namespace (shared by the namespaces a
/// `SocketIONamespaceGroup` creates).
final class NamespaceHooks: Sendable {
    struct Hooks {
        var middlewares: [SocketIOMiddleware] = []
        var onConnection: SocketIOConnectionHandler?
    }
    let hooks = NIOLockedValueBox(Hooks())
}

/// A Socket.IO namespace: its sockets, rooms and broadcasts.
public final class SocketIONamespace: Sendable {
    /// The namespace name, for example `/` or `/admin`.
    public let name: String
    let hooks: NamespaceHooks
    let server: SocketIOServer
    private let state = NIOLockedValueBox(RoomState())

    struct RoomState {
        var sockets: [String: SocketIOSocket] = [:]
        var rooms: [String: Set<String>] = [:]
        var socketRooms: [String: Set<String>] = [:]
    }

    init(name: String, hooks: NamespaceHooks, server: SocketIOServer) {
        self.name = name
        self.hooks = hooks
        self.server = server
    }

    /// Adds a middleware; middlewares run in the order they were added.
    @discardableResult
    public func use(_ middleware: @escaping SocketIOMiddleware) -> Self {
        hooks.hooks.withLockedValue { $0.middlewares.append(middleware) }
        return self
    }

    /// Sets the connection handler.
    @discardableResult
    public func onConnection(_ handler: @escaping SocketIOConnectionHandler) -> Self {
        hooks.hooks.withLockedValue { $0.onConnection = handler }
        return self
    }

    /// Connected sockets.
    public var sockets: [SocketIOSocket] { state.withLockedValue { Array($0.sockets.values) } }

    /// The connected socket with this id.
    public func socket(id: String) -> SocketIOSocket? { state.withLockedValue { $0.sockets[id] } }

    /// Ids of the sockets in `room`.
    public func socketIDs(in room: String) -> Set<String> { state.withLockedValue { $0.rooms[room] ?? [] } }

    /// A broadcast to everyone in `room` (chain `to`/`except` for more).
    public func to(_ room: String) -> SocketIOBroadcast { SocketIOBroadcast(namespace: self).to(room) }

    /// A broadcast to everyone in the namespace except those in `room`.
    public func except(_ room: String) -> SocketIOBroadcast { SocketIOBroadcast(namespace: self).except(room) }

    /// Emits to every socket of the namespace.
    public func emit(_ event: String, _ arguments: JSONValue..., offset: String? = nil) {
        SocketIOBroadcast(namespace: self).emit(event, arguments, offset: offset)
    }

    /// Emits to every socket of the namespace, with an array of arguments.
    public func emit(_ event: String, _ arguments: [JSONValue], offset: String? = nil) {
        SocketIOBroadcast(namespace: self).emit(event, arguments, offset: offset)
    }

    // MARK: - Membership

    func add(_ socket: SocketIOSocket, rooms: Set<String>) {
        state.withLockedValue { state in
            state.sockets[socket.id] = socket
            for room in rooms { Self.join(&state, socket.id, room) }
        }
    }

    /// Removes the socket and returns the rooms it was in.
    @discardableResult
    func remove(_ socket: SocketIOSocket) -> Set<String> {
        state.withLockedValue { state in
            guard state.sockets[socket.id] === socket else { return [] }
            state.sockets.removeValue(forKey: socket.id)
            let rooms = state.socketRooms.removeValue(forKey: socket.id) ?? []
            for room in rooms {
                state.rooms[room]?.remove(socket.id)
                if state.rooms[room]?.isEmpty == true { state.rooms.removeValue(forKey: room) }
            }
            return rooms
        }
    }

    func join(_ socket: SocketIOSocket, _ rooms: [String]) {
        state.withLockedValue { state in
            guard state.sockets[socket.id] === socket else { return }
            for room in rooms { Self.join(&state, socket.id, room) }
        }
    }

    func leave(_ socket: SocketIOSocket, _ room: String) {
        state.withLockedValue { state in
            guard state.sockets[socket.id] === socket else { return }
            state.socketRooms[socket.id]?.remove(room)
            state.rooms[room]?.remove(socket.id)
            if state.rooms[room]?.isEmpty == true { state.rooms.removeValue(forKey: room) }
        }
    }

    func rooms(of socket: SocketIOSocket) -> Set<String> {
        state.withLockedValue { $0.socketRooms[socket.id] ?? [] }
    }

    private static func join(_ state: inout RoomState, _ id: String, _ room: String) {
        state.rooms[room, default: []].insert(id)
        state.socketRooms[id, default: []].insert(room)
    }

    /// The sockets a broadcast reaches.
    func targets(rooms: Set<String>, except: Set<String>) -> [SocketIOSocket] {
        state.withLockedValue { state in
            var excluded = Set<String>()
            for room in except { excluded.formUnion(state.rooms[room] ?? []) }
            if rooms.isEmpty {
                return state.sockets.values.filter { !excluded.contains($0.id) }
            }
            var ids = Set<String>()
            for room in rooms { ids.formUnion(state.rooms[room] ?? []) }
            ids.subtract(excluded)
            return ids.compactMap { state.sockets[$0] }
        }
    }
}

/// Namespaces created on demand for names a predicate accepts (`server.of(matching:)`).
/// Middlewares and the connection handler set here apply to all of them.
public final class SocketIONamespaceGroup: Sendable {
    let predicate: @Sendable (String) -> Bool
    let hooks = NamespaceHooks()

    init(predicate: @escaping @Sendable (String) -> Bool) {
        self.predicate = predicate
    }

    /// Adds a middleware for every matching namespace.
    @discardableResult
    public func use(_ middleware: @escaping SocketIOMiddleware) -> Self {
        hooks.hooks.withLockedValue { $0.middlewares.append(middleware) }
        return self
    }

    /// Sets the connection handler for every matching namespace.
    @discardableResult
    public func onConnection(_ handler: @escaping SocketIOConnectionHandler) -> Self {
        hooks.hooks.withLockedValue { $0.onConnection = handler }
        return self
    }
}

/// A broadcast: a namespace plus target rooms and excluded rooms. The packet is encoded once
/// and the same frames are queued for every target socket.
public struct SocketIOBroadcast: Sendable {
    let namespace: SocketIONamespace
    var rooms: Set<String> = []
    var exceptRooms: Set<String> = []

    /// Also send to everyone in `room`.
    public func to(_ room: String) -> SocketIOBroadcast {
        var copy = self
        copy.rooms.insert(room)
        return copy
    }

    /// Also send to everyone in these rooms.
    public func to(_ rooms: some Sequence<String>) -> SocketIOBroadcast {
        var copy = self
        copy.rooms.formUnion(rooms)
        return copy
    }

    /// Leave out everyone in `room`.
    public func except(_ room: String) -> SocketIOBroadcast {
        var copy = self
        copy.exceptRooms.insert(room)
        return copy
    }

    /// Emits `event` with `arguments`.
    ///
    /// With connection state recovery on, the broadcast is recorded in the recovery store and
    /// carries an offset as its last argument: `offset` if given (for example a Kafka
    /// position), otherwise one from the store.
    public func emit(_ event: String, _ arguments: JSONValue..., offset: String? = nil) {
        emit(event, arguments, offset: offset)
    }

    /// Emits `event` with an array of arguments (see `emit(_:_:offset:)`).
    public func emit(_ event: String, _ arguments: [JSONValue], offset: String? = nil) {
        var payload: [JSONValue] = [.string(event)]
        payload.append(contentsOf: arguments)
        var packetOffset: String?
        if let recovery = namespace.server.configuration.connectionStateRecovery {
            let assigned = offset ?? recovery.store.makeOffset()
            recovery.store.append(
                RecoverablePacket(
                    namespace: namespace.name, rooms: rooms, except: exceptRooms, event: event, arguments: arguments,
                    offset: assigned))
            payload.append(.string(assigned))
            packetOffset = assigned
        }
        let frames = SocketIOCodec.encode(type: .event, namespace: namespace.name, data: .array(payload))
        for socket in namespace.targets(rooms: rooms, except: exceptRooms) {
            socket.deliver(frames, offset: packetOffset)
        }
    }
}
