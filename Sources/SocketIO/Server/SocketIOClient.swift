import NIOConcurrencyHelpers
import NIOCore

/// The Socket.IO side of one Engine.IO session: packet decoding (with binary attachments),
/// the namespaces it joined and the connect timeout.
final class SocketIOClient: Sendable {
    let session: EngineIOSession
    let server: SocketIOServer
    private let state = NIOLockedValueBox(State())

    struct State {
        var sockets: [String: SocketIOSocket] = [:]
        var pending: SocketIOPacket?
        var attachments: [ByteBuffer] = []
        var attachmentBytes = 0
        var everConnected = false
        var connectTimer: Scheduled<Void>?
    }

    init(session: EngineIOSession, server: SocketIOServer) {
        self.session = session
        self.server = server
    }

    func start() {
        let timer = session.eventLoop.scheduleTask(in: server.configuration.connectTimeout.timeAmount) { [self] in
            let connected = state.withLockedValue { $0.everConnected }
            if !connected { session.close() }
        }
        state.withLockedValue { $0.connectTimer = timer }
    }

    /// Decodes one Engine.IO message; throws (closing the session) on anything malformed.
    func received(_ message: EngineIOMessage) async throws {
        let limits = server.decodeLimits
        switch message {
        case .text(let text):
            let waiting = state.withLockedValue { $0.pending != nil }
            if waiting { throw SocketIOParseError(reason: "expected a binary attachment") }
            let packet = try SocketIOCodec.decode(text, limits: limits)
            if packet.attachments > 0 {
                state.withLockedValue { $0.pending = packet }
                return
            }
            try await dispatch(packet)
        case .binary(let buffer):
            enum Next { case wait, complete(SocketIOPacket, [ByteBuffer]), fail(String) }
            let next = state.withLockedValue { state -> Next in
                guard let packet = state.pending else { return .fail("unexpected binary message") }
                state.attachmentBytes += buffer.readableBytes
                guard state.attachmentBytes <= server.configuration.engine.maxPayload else {
                    return .fail("attachments too large")
                }
                state.attachments.append(buffer)
                guard state.attachments.count == packet.attachments else { return .wait }
                let complete = Next.complete(packet, state.attachments)
                state.pending = nil
                state.attachments = []
                state.attachmentBytes = 0
                return complete
            }
            switch next {
            case .wait: return
            case .fail(let reason): throw SocketIOParseError(reason: reason)
            case .complete(var packet, let attachments):
                if let data = packet.data {
                    packet.data = try SocketIOCodec.reconstruct(data, attachments: attachments)
                }
                packet.type = packet.type == .binaryEvent ? .event : .ack
                try await dispatch(packet)
            }
        }
    }

    private func dispatch(_ packet: SocketIOPacket) async throws {
        switch packet.type {
        case .connect:
            await connect(namespace: packet.namespace, auth: packet.data ?? .object([]))
        case .disconnect:
            socket(for: packet.namespace)?.didDisconnect(.clientNamespaceDisconnect)
        case .event, .binaryEvent:
            guard let socket = socket(for: packet.namespace), case .array(let elements)? = packet.data else { return }
            await socket.handleEvent(elements, ackID: packet.id)
        case .ack, .binaryAck:
            guard let socket = socket(for: packet.namespace), let id = packet.id, case .array(let elements)? = packet.data
            else { return }
            socket.handleAck(id, elements)
        case .connectError:
            throw SocketIOParseError(reason: "CONNECT_ERROR from a client")
        }
    }

    private func socket(for namespace: String) -> SocketIOSocket? {
        state.withLockedValue { $0.sockets[namespace] }
    }

    // MARK: - Connect

    private func connect(namespace name: String, auth: JSONValue) async {
        guard let namespace = server.resolveNamespace(name) else {
            session.enqueue(
                SocketIOCodec.encode(
                    type: .connectError, namespace: name, data: .object(["message": "Invalid namespace"])))
            return
        }
        if socket(for: name) != nil { return }
        let handshake = SocketIOHandshake(
            headers: session.handshake.headers, query: session.handshake.query, url: session.handshake.url, auth: auth)
        if let recovery = server.configuration.connectionStateRecovery,
            let pid = auth["pid"]?.stringValue, let offset = auth["offset"]?.stringValue,
            await recover(namespace: namespace, handshake: handshake, pid: pid, offset: offset, recovery: recovery)
        {
            return
        }
        let socket = SocketIOSocket(
            id: SocketIOServer.randomID(), pid: server.configuration.connectionStateRecovery == nil ? nil : SocketIOServer.randomID(),
            namespace: namespace, handshake: handshake, recovered: false, client: self, data: .null, holding: false)
        guard await runMiddlewares(namespace: namespace, socket: socket) else { return }
        guard register(socket, in: namespace, rooms: [socket.id]) else { return }
        session.enqueue(SocketIOCodec.encode(type: .connect, namespace: name, data: connectPayload(socket)))
        connected()
        await namespace.hooks.hooks.withLockedValue({ $0.onConnection })?(socket)
    }

    private func recover(
        namespace: SocketIONamespace, handshake: SocketIOHandshake, pid: String, offset: String,
        recovery: ConnectionStateRecovery
    ) async -> Bool {
        guard let saved = await recovery.store.takeSession(pid: pid), saved.namespace == namespace.name else {
            return false
        }
        let socket = SocketIOSocket(
            id: saved.id, pid: saved.pid, namespace: namespace, handshake: handshake, recovered: true, client: self,
            data: saved.data, holding: true)
        if !recovery.skipMiddlewares {
            guard await runMiddlewares(namespace: namespace, socket: socket) else { return true }
        }
        let rooms = saved.rooms.union([saved.id])
        // Join first (live broadcasts are held back), then read what was missed, so that
        // nothing falls between the two; duplicates are dropped by offset.
        guard register(socket, in: namespace, rooms: rooms) else { return true }
        guard let replay = await recovery.store.replay(after: offset, session: saved) else {
            unregister(socket, from: namespace)
            return false
        }
        var frames: [EngineFrame] = SocketIOCodec.encode(
            type: .connect, namespace: namespace.name, data: connectPayload(socket))
        for packet in replay.packets {
            guard packet.namespace == namespace.name, packet.except.isDisjoint(with: rooms),
                packet.rooms.isEmpty || !packet.rooms.isDisjoint(with: rooms)
            else { continue }
            let payload: [JSONValue] = [.string(packet.event)] + packet.arguments + [.string(packet.offset)]
            frames.append(contentsOf: SocketIOCodec.encode(type: .event, namespace: namespace.name, data: .array(payload)))
        }
        guard socket.markConnected(), !session.isClosed else {
            socket.didDisconnect(.init(.transportClose))
            return true
        }
        socket.finishRecovery(missed: frames, isReplayed: replay.isReplayed)
        connected()
        await namespace.hooks.hooks.withLockedValue({ $0.onConnection })?(socket)
        return true
    }

    private func connectPayload(_ socket: SocketIOSocket) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [(key: "sid", value: .string(socket.id))]
        if let pid = socket.pid { members.append((key: "pid", value: .string(pid))) }
        return .object(members)
    }

    private func runMiddlewares(namespace: SocketIONamespace, socket: SocketIOSocket) async -> Bool {
        let middlewares = namespace.hooks.hooks.withLockedValue { $0.middlewares }
        for middleware in middlewares {
            do {
                try await middleware(socket)
            } catch let error as SocketIOConnectError {
                session.enqueue(SocketIOCodec.encode(type: .connectError, namespace: namespace.name, data: error.payload))
                return false
            } catch {
                session.enqueue(
                    SocketIOCodec.encode(
                        type: .connectError, namespace: namespace.name,
                        data: .object(["message": .string(String(describing: error))])))
                return false
            }
        }
        return !session.isClosed
    }

    /// Adds the socket to the namespace and this client; false if the session closed meanwhile.
    private func register(_ socket: SocketIOSocket, in namespace: SocketIONamespace, rooms: Set<String>) -> Bool {
        namespace.add(socket, rooms: rooms)
        state.withLockedValue { $0.sockets[namespace.name] = socket }
        if !socket.recovered { socket.markConnected() }
        if session.isClosed {
            // The session closed while middlewares ran: undo (`closed(reason:)` may have run
            // before the socket was listed here).
            socket.didDisconnect(.init(.transportClose))
            return false
        }
        return true
    }

    private func unregister(_ socket: SocketIOSocket, from namespace: SocketIONamespace) {
        namespace.remove(socket)
        socketDisconnected(socket)
    }

    private func connected() {
        let timer = state.withLockedValue { state -> Scheduled<Void>? in
            state.everConnected = true
            defer { state.connectTimer = nil }
            return state.connectTimer
        }
        timer?.cancel()
    }

    // MARK: - Close

    func socketDisconnected(_ socket: SocketIOSocket) {
        state.withLockedValue { state in
            if state.sockets[socket.namespace.name] === socket {
                state.sockets.removeValue(forKey: socket.namespace.name)
            }
        }
    }

    func closed(reason: EngineIOCloseReason) {
        let (sockets, timer) = state.withLockedValue { state in
            defer {
                state.connectTimer = nil
                state.pending = nil
                state.attachments = []
            }
            return (Array(state.sockets.values), state.connectTimer)
        }
        timer?.cancel()
        for socket in sockets { socket.didDisconnect(SocketIODisconnectReason(reason)) }
    }
}
