import Logging
import NIOCore
import NIOWebSocket

/// Serves Engine.IO on one upgraded WebSocket, event-driven on the connection's event loop.
///
/// An idle connection holds no task: frames are read by NIO and handed to the shared
/// `EngineWebSocketConnection`; queued packets reach the socket through a one-shot request to
/// the session (`EngineIOSession.requestFrames`), renewed after each write while the channel is
/// writable (otherwise when it becomes writable again; the session's send-queue caps apply
/// meanwhile). Only application messages need a task: the first message of a burst starts
/// one that hands the messages to the application in order and ends when none are left; while
/// it runs, reading from the socket pauses.
///
/// Sits behind NIO's `WebSocketFrameDecoder` (frames up to `maxPayload`) and a
/// `NIOWebSocketFrameAggregator` (fragmented messages up to `maxPayload`).
final class EngineWebSocketHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// How long a close handshake the server started may take before the TCP connection is
    /// closed anyway.
    static let closeTimeout = TimeAmount.seconds(5)

    private let plan: EngineWebSocketPlan
    private var connection: EngineWebSocketConnection?
    private var context: ChannelHandlerContext?
    private let inbound = EngineInboundQueue()
    private var upgradeTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    private var waitingForWritability = false
    private var deferredRead = false
    /// A close frame was sent (or the channel is going away): nothing more is written.
    private var closing = false

    init(plan: EngineWebSocketPlan) {
        self.plan = plan
    }

    // MARK: - Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Hummingbird allows half-closure: a client that shuts down its side (or goes away)
        // ends the WebSocket.
        if let event = event as? ChannelEvent, event == .inputClosed {
            finish()
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish()
        self.context = nil
    }

    private func start(context: ChannelHandlerContext) {
        guard connection == nil, !closing else { return }
        switch EngineWebSocketConnection.open(server: plan.server, handshake: plan.handshake, existing: plan.session) {
        case .failure(let refusal):
            close(code: .policyViolation, reason: refusal.reason.rawValue)
        case .success(let opened):
            connection = opened
            if opened.isUpgrade {
                let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
                upgradeTimer = context.eventLoop.scheduleTask(in: plan.server.configuration.upgradeTimeout.timeAmount) {
                    // The upgrade timer only ends the WebSocket if the upgrade is still pending.
                    if handler.value.connection?.isProbing == true { handler.value.close(code: .normalClosure) }
                }
            }
            requestFrames()
        }
    }

    private func finish() {
        closing = true
        upgradeTimer?.cancel()
        upgradeTimer = nil
        closeTimer?.cancel()
        closeTimer = nil
        if let connection {
            self.connection = nil
            connection.ended()
        }
    }

    // MARK: - Outbound

    private func requestFrames() {
        guard let connection, let context, !closing else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        connection.session.requestFrames(webSocketID: connection.webSocketID) { frames in
            handler.eventLoop.execute { handler.value.write(frames) }
        }
    }

    private func write(_ frames: [EngineFrame]?) {
        guard let context, !closing else { return }
        guard let frames else {
            close(code: .normalClosure)
            return
        }
        for frame in frames { context.write(wrapOutboundOut(Self.webSocketFrame(frame)), promise: nil) }
        context.flush()
        if context.channel.isWritable {
            requestFrames()
        } else {
            waitingForWritability = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && waitingForWritability {
            waitingForWritability = false
            requestFrames()
        }
        context.fireChannelWritabilityChanged()
    }

    static func webSocketFrame(_ frame: EngineFrame) -> WebSocketFrame {
        switch frame {
        case .text(let buffer): return WebSocketFrame(fin: true, opcode: .text, data: buffer)
        case .binary(let buffer): return WebSocketFrame(fin: true, opcode: .binary, data: buffer)
        }
    }

    /// Starts the close handshake: a close frame, then the TCP connection closes when the
    /// client answers (or after `closeTimeout`).
    private func close(code: WebSocketErrorCode, reason: String? = nil) {
        guard let context, !closing else { return }
        // The WebSocket is over for Engine.IO right away (a probe gives way to polling again),
        // whatever the close handshake takes.
        finish()
        var data = context.channel.allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(reason) }
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        closeTimer = context.eventLoop.scheduleTask(in: Self.closeTimeout) { [channel = context.channel] in
            channel.close(promise: nil)
        }
    }

    // MARK: - Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            if closing {
                // The client answered our close frame.
                context.close(promise: nil)
            } else {
                // The client closes: echo its status code, then close the connection.
                finish()
                var payload = frame.unmaskedData
                var echo = context.channel.allocator.buffer(capacity: 2)
                if let code = payload.readInteger(as: UInt16.self) { echo.writeInteger(code) }
                let answer = WebSocketFrame(fin: true, opcode: .connectionClose, data: echo)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in channel.close(promise: nil) }
            }
        case .ping:
            if !closing {
                let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            }
        case .text:
            guard let connection, !closing else { return }
            let text = String(buffer: frame.unmaskedData)
            perform(connection.received(text: text), connection: connection, context: context)
        case .binary:
            guard let connection, !closing else { return }
            perform(connection.received(binary: frame.unmaskedData), connection: connection, context: context)
        default:
            break  // pongs; continuation frames never get past the aggregator
        }
    }

    private func perform(
        _ step: EngineWebSocketConnection.Step, connection: EngineWebSocketConnection, context: ChannelHandlerContext
    ) {
        switch step {
        case .none:
            break
        case .end:
            close(code: .normalClosure)
        case .reply(let frame):
            context.writeAndFlush(wrapOutboundOut(Self.webSocketFrame(frame)), promise: nil)
        case .packet(let packet):
            if !inbound.isBusy {
                // Nothing waiting for the application: control packets are handled at once.
                let (message, keepOpen) = connection.handleControl(packet)
                guard keepOpen else {
                    close(code: .normalClosure)
                    return
                }
                guard let message else { return }
                deliver(.message(message), connection: connection, context: context)
            } else {
                deliver(packet, connection: connection, context: context)
            }
        }
    }

    /// Queues a packet for the application, in order, starting the delivery task if none runs.
    private func deliver(
        _ packet: EngineInbound, connection: EngineWebSocketConnection, context: ChannelHandlerContext
    ) {
        guard inbound.push(packet) else { return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let queue = inbound
        // The application's message handlers are async; this task lives only while messages
        // are being handled (an idle connection has none).
        Task {
            var keepOpen = true
            while let next = queue.next() {
                guard keepOpen else { continue }  // the WebSocket is ending: drop the rest
                keepOpen = await connection.handle(next)
                if !keepOpen { handler.eventLoop.execute { handler.value.close(code: .normalClosure) } }
            }
            handler.eventLoop.execute { handler.value.deliveriesFinished() }
        }
    }

    private func deliveriesFinished() {
        guard deferredRead, let context else { return }
        if inbound.isBusy { return }
        deferredRead = false
        context.read()
    }

    func read(context: ChannelHandlerContext) {
        // Back-pressure: no more reads while the application is handling messages.
        if inbound.isBusy {
            deferredRead = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Oversized or malformed frames, oversized fragmented messages: end the WebSocket
        // (the session closes with `transport error`, as the reference server reports them).
        plan.server.logger.debug("websocket failed", metadata: ["error": "\(error)"])
        connection?.failed()
        if error is NIOWebSocketFrameAggregator.Error {
            close(code: .messageTooLarge)
        } else if error is NIOWebSocketError {
            close(code: .protocolError)
        } else {
            closing = true
            context.close(promise: nil)
        }
    }
}
