import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOWebSocket
import Logging
import NIOCore

extension EngineIOServer {
    // MARK: - WebSocket

    func runWebSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, handshake: EngineIOHandshake,
        session existing: EngineIOSession?
    ) async {
        let webSocketID = nextWebSocketID()
        let session: EngineIOSession
        if let existing {
            guard existing.beginProbe(webSocketID: webSocketID) else {
                try? await outbound.close(.policyViolation, reason: "Bad request")
                return
            }
            session = existing
        } else {
            guard let created = makeSession(handshake: handshake, webSocketID: webSocketID) else {
                try? await outbound.close(.policyViolation, reason: "Forbidden")
                return
            }
            session = created
            session.enqueue([openPacket(for: session, upgrades: [])])
            session.startHeartbeat()
            handlers.opened(session)
        }
        enum Finished { case reader, writer, upgradeTimer }
        let upgradeTimeout = configuration.upgradeTimeout
        await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                await self.readLoop(session, webSocketID: webSocketID, inbound: inbound, outbound: outbound)
                return .reader
            }
            group.addTask {
                await self.writeLoop(session, webSocketID: webSocketID, outbound: outbound)
                return .writer
            }
            if existing != nil {
                group.addTask {
                    try? await Task.sleep(for: upgradeTimeout)
                    return .upgradeTimer
                }
            }
            while let finished = await group.next() {
                // The upgrade timer only ends the WebSocket if the upgrade is still pending.
                if finished == .upgradeTimer && !session.isProbing(webSocketID: webSocketID) { continue }
                break
            }
            group.cancelAll()
        }
        session.webSocketEnded(webSocketID: webSocketID)
        try? await outbound.close(.normalClosure, reason: nil)
    }

    func readLoop(
        _ session: EngineIOSession, webSocketID: Int, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async {
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        do {
            // Upgrade probe phase: only `2probe`, `5` and noops are allowed.
            while session.isProbing(webSocketID: webSocketID) {
                guard case .text(let text)? = try await messages.next() else { return }
                if text == "2probe" {
                    guard session.probeReceived(webSocketID: webSocketID) else { return }
                    try await outbound.write(.text("3probe"))
                } else if text == "5" {
                    guard session.completeUpgrade(webSocketID: webSocketID) else { return }
                } else if text != "6" {
                    return
                }
            }
            while let message = try await messages.next() {
                let packet: EngineInbound
                switch message {
                case .text(let text):
                    do {
                        packet = try EngineCodec.decode(text: Substring(text))
                    } catch {
                        session.close(reason: .parseError)
                        return
                    }
                case .binary(let buffer):
                    packet = .message(.binary(buffer))
                }
                do {
                    try await session.receive(packet)
                } catch {
                    session.close(reason: .parseError)
                    return
                }
                if session.isClosed { return }
            }
        } catch {
            // Oversized or malformed frames, or a broken connection, end the WebSocket
            // (reason `transport error`, as the reference server reports them).
            logger.debug("websocket read failed", metadata: ["sid": "\(session.id)", "error": "\(error)"])
            if !session.isProbing(webSocketID: webSocketID) { session.close(reason: .transportError) }
        }
    }

    func writeLoop(_ session: EngineIOSession, webSocketID: Int, outbound: WebSocketOutboundWriter) async {
        while let frames = await session.nextFrames(webSocketID: webSocketID) {
            do {
                for (index, frame) in frames.enumerated() {
                    // One packet per flush, like the reference server's one-write-in-flight
                    // transport: let the previous write reach the socket first.
                    if index > 0 { await Task.yield() }
                    switch frame {
                    case .text(let buffer):
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: buffer)))
                    case .binary(let buffer):
                        try await outbound.write(.binary(buffer))
                    }
                }
            } catch {
                session.close(reason: .transportError)
                return
            }
        }
    }
}
