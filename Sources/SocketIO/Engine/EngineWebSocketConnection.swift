import NIOCore

/// Engine.IO over one WebSocket, independent of how its frames travel: opening (a new session,
/// or an upgrade probe of a polling session), the probe dance, decoding, and the end. Both
/// WebSocket transports drive it — the event-driven NIO handler (`EngineWebSocketHandler`) and
/// the async hummingbird-websocket path (`EngineIOServer.runWebSocket`, kept for
/// permessage-deflate) — so the protocol logic exists once.
struct EngineWebSocketConnection: Sendable {
    /// What the transport does with an inbound WebSocket message.
    enum Step {
        /// Nothing to do.
        case none
        /// Write this frame at once (the `3probe` answer), outside the session's queue.
        case reply(EngineFrame)
        /// A decoded packet for the session, handled in order with the ones before it.
        case packet(EngineInbound)
        /// End the WebSocket.
        case end
    }

    /// Why a WebSocket was refused before it carried Engine.IO (sent as the close reason).
    enum Refusal: String {
        case badRequest = "Bad request"
        case forbidden = "Forbidden"
    }

    let server: EngineIOServer
    let session: EngineIOSession
    let webSocketID: Int
    /// True when the WebSocket joins an existing polling session (upgrade), false when it opened
    /// the session itself.
    let isUpgrade: Bool

    /// Opens Engine.IO on a freshly upgraded WebSocket: probes `existing` or creates a session
    /// (queueing its open packet and starting its heartbeat).
    static func open(
        server: EngineIOServer, handshake: EngineIOHandshake, existing: EngineIOSession?
    ) -> Result<EngineWebSocketConnection, EngineWebSocketRefusal> {
        let webSocketID = server.nextWebSocketID()
        if let existing {
            guard existing.beginProbe(webSocketID: webSocketID) else { return .failure(.init(.badRequest)) }
            return .success(.init(server: server, session: existing, webSocketID: webSocketID, isUpgrade: true))
        }
        guard let created = server.makeSession(handshake: handshake, webSocketID: webSocketID) else {
            return .failure(.init(.forbidden))
        }
        created.enqueue([server.openPacket(for: created, upgrades: [])])
        created.startHeartbeat()
        server.handlers.opened(created)
        return .success(.init(server: server, session: created, webSocketID: webSocketID, isUpgrade: false))
    }

    /// True while the upgrade this WebSocket carries has not completed.
    var isProbing: Bool { session.isProbing(webSocketID: webSocketID) }

    /// An inbound text message.
    func received(text: String) -> Step {
        if isProbing {
            // Upgrade probe phase: only `2probe`, `5` and noops are allowed.
            switch text {
            case "2probe":
                return session.probeReceived(webSocketID: webSocketID) ? .reply(.control(.pong, "probe")) : .end
            case "5":
                return session.completeUpgrade(webSocketID: webSocketID) ? .none : .end
            case "6":
                return .none
            default:
                return .end
            }
        }
        do {
            return .packet(try EngineCodec.decode(text: Substring(text)))
        } catch {
            session.close(reason: .parseError)
            return .end
        }
    }

    /// An inbound binary message.
    func received(binary: ByteBuffer) -> Step {
        isProbing ? .end : .packet(.message(.binary(binary)))
    }

    /// Handles a packet that needs no application code at once; returns the message for
    /// `deliver(_:)` otherwise. False in `keepOpen` when the WebSocket must end.
    func handleControl(_ packet: EngineInbound) -> (message: EngineIOMessage?, keepOpen: Bool) {
        do {
            let message = try session.receiveControl(packet)
            return (message, !session.isClosed)
        } catch {
            session.close(reason: .parseError)
            return (nil, false)
        }
    }

    /// Hands a message to the application; false when the WebSocket must end.
    func deliver(_ message: EngineIOMessage) async -> Bool {
        do {
            try await server.handlers.received(session, message)
        } catch {
            session.close(reason: .parseError)
            return false
        }
        return !session.isClosed
    }

    /// Handles one packet in order (control packets at once, messages through the application);
    /// false when the WebSocket must end.
    func handle(_ packet: EngineInbound) async -> Bool {
        let (message, keepOpen) = handleControl(packet)
        guard keepOpen else { return false }
        guard let message else { return true }
        return await deliver(message)
    }

    /// The WebSocket failed (oversized or malformed frames, a broken connection): the session
    /// closes with `transport error` unless this WebSocket was only probing.
    func failed() {
        if !isProbing { session.close(reason: .transportError) }
    }

    /// The WebSocket is gone: the session closes if it was its transport; a probe simply ends.
    func ended() {
        session.webSocketEnded(webSocketID: webSocketID)
    }
}

/// A WebSocket refused before it carried Engine.IO.
struct EngineWebSocketRefusal: Error {
    let reason: EngineWebSocketConnection.Refusal
    init(_ reason: EngineWebSocketConnection.Refusal) { self.reason = reason }
}
