import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOWebSocket
import Logging
import NIOCore

extension EngineIOServer {
    // MARK: - WebSocket (async hummingbird-websocket transport)

    /// Serves Engine.IO on a WebSocket upgraded by hummingbird-websocket's
    /// `HTTP1WebSocketUpgradeChannel` (the `.http1WebSocketUpgrade` server builder, which
    /// permessage-deflate needs). It holds a reader and a writer task for the connection's
    /// life; the event-driven `EngineWebSocketHandler` serves the same protocol without tasks.
    func runWebSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, handshake: EngineIOHandshake,
        session existing: EngineIOSession?
    ) async {
        let connection: EngineWebSocketConnection
        switch EngineWebSocketConnection.open(server: self, handshake: handshake, existing: existing) {
        case .failure(let refusal):
            try? await outbound.close(.policyViolation, reason: refusal.reason.rawValue)
            return
        case .success(let opened):
            connection = opened
        }
        enum Finished { case reader, writer, upgradeTimer }
        let upgradeTimeout = configuration.upgradeTimeout
        await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                await self.readLoop(connection, inbound: inbound, outbound: outbound)
                return .reader
            }
            group.addTask {
                await self.writeLoop(connection, outbound: outbound)
                return .writer
            }
            if connection.isUpgrade {
                group.addTask {
                    try? await Task.sleep(for: upgradeTimeout)
                    return .upgradeTimer
                }
            }
            while let finished = await group.next() {
                // The upgrade timer only ends the WebSocket if the upgrade is still pending.
                if finished == .upgradeTimer && !connection.isProbing { continue }
                break
            }
            group.cancelAll()
        }
        connection.ended()
        try? await outbound.close(.normalClosure, reason: nil)
    }

    func readLoop(
        _ connection: EngineWebSocketConnection, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async {
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        do {
            while let message = try await messages.next() {
                let step: EngineWebSocketConnection.Step
                switch message {
                case .text(let text): step = connection.received(text: text)
                case .binary(let buffer): step = connection.received(binary: buffer)
                }
                switch step {
                case .none: continue
                case .end: return
                case .reply(let frame): try await Self.write(frame, to: outbound)
                case .packet(let packet): guard await connection.handle(packet) else { return }
                }
            }
        } catch {
            // Oversized or malformed frames, or a broken connection, end the WebSocket
            // (reason `transport error`, as the reference server reports them).
            logger.debug("websocket read failed", metadata: ["sid": "\(connection.session.id)", "error": "\(error)"])
            connection.failed()
        }
    }

    func writeLoop(_ connection: EngineWebSocketConnection, outbound: WebSocketOutboundWriter) async {
        while let frames = await connection.session.nextFrames(webSocketID: connection.webSocketID) {
            do {
                for (index, frame) in frames.enumerated() {
                    // One packet per flush, like the reference server's one-write-in-flight
                    // transport: let the previous write reach the socket first.
                    if index > 0 { await Task.yield() }
                    try await Self.write(frame, to: outbound)
                }
            } catch {
                connection.session.close(reason: .transportError)
                return
            }
        }
    }

    static func write(_ frame: EngineFrame, to outbound: WebSocketOutboundWriter) async throws {
        switch frame {
        case .text(let buffer):
            try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: buffer)))
        case .binary(let buffer):
            try await outbound.write(.binary(buffer))
        }
    }
}
