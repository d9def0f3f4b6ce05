import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// A Hummingbird child channel for HTTP/1 with Engine.IO WebSockets served by
/// `EngineWebSocketHandler` (event-driven, no task per connection).
///
/// Plain HTTP requests go through Hummingbird's HTTP/1 pipeline and the application's
/// responder unchanged (long-polling, the application's own routes). A WebSocket upgrade
/// request is routed through `webSocketRouter`: when an `EngineIOServer` mounted there accepts
/// it, the upgraded pipeline is NIO's frame decoder and encoder, a frame aggregator capped at
/// `maxPayload`, and the Engine.IO handler. Any other upgrade is refused with 400. Built by
/// `HTTPServerBuilder.socketIO(_:webSocketRouter:)` or `.engineIO(webSocketRouter:configuration:)`.
public struct EngineIOUpgradeChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case webSocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case failedUpgrade(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, Logger)
    }

    /// The child channel after setup: its upgrade (or plain HTTP) result.
    public struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        public let channel: any Channel
    }

    typealias UpgradeResponder = @Sendable (HTTPRequest, any Channel, Logger) async -> EngineWebSocketPlan?

    public let responder: HTTPChannelHandler.Responder
    let upgradeResponder: UpgradeResponder
    let http1: HTTP1Channel.Configuration
    let maxPayload: Int

    /// Creates the channel. `webSocketResponder` answers upgrade requests (the router the
    /// Engine.IO endpoints are mounted on); `maxPayload` caps frames and reassembled messages.
    init<WSResponder: HTTPResponder>(
        responder: @escaping HTTPChannelHandler.Responder,
        webSocketResponder: WSResponder,
        http1: HTTP1Channel.Configuration,
        maxPayload: Int
    ) where WSResponder.Context: WebSocketRequestContext {
        self.responder = Self.upgradeAwareResponder(responder)
        self.http1 = http1
        self.maxPayload = maxPayload
        self.upgradeResponder = { head, channel, logger in
            let request = Request(head: head, body: .init(buffer: .init()))
            let context = WSResponder.Context(source: .init(channel: channel, logger: logger))
            let capture = EngineUpgradeCapture()
            let response = try? await EngineUpgradeCapture.$current.withValue(capture) {
                try await webSocketResponder.respond(to: request, context: context)
            }
            guard response?.status == .ok else { return nil }
            return capture.plan
        }
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let upgradeAttempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let accepted = NIOLoopBoundBox<EngineWebSocketPlan?>(nil, eventLoop: channel.eventLoop)
            let upgradeResponder = self.upgradeResponder
            let maxPayload = self.maxPayload
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: maxPayload,
                shouldUpgrade: { channel, head in
                    upgradeAttempted.value = true
                    let request: HTTPRequest
                    do {
                        request = try HTTPRequest(head, secure: false, splitCookie: false)
                    } catch {
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    let promise = channel.eventLoop.makePromise(of: EngineWebSocketPlan?.self)
                    promise.completeWithTask { await upgradeResponder(request, channel, logger) }
                    return promise.futureResult.map { plan in
                        accepted.value = plan
                        return plan == nil ? nil : HTTPHeaders()
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let plan = accepted.value else {
                            throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget
                        }
                        accepted.value = nil
                        try channel.pipeline.syncOperations.addHandlers(
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: Int.max,
                                maxAccumulatedFrameSize: maxPayload),
                            EngineWebSocketHandler(plan: plan)
                        )
                        return UpgradeResult.webSocket
                    }
                }
            )
            let http1 = self.http1
            let serverUpgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandlers(http1.additionalChannelHandlers())
                        try channel.pipeline.syncOperations.addHandler(
                            HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger)
                        )
                        let asyncChannel = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel,
                            configuration: .init(isOutboundHalfClosureEnabled: true)
                        )
                        return upgradeAttempted.value
                            ? UpgradeResult.failedUpgrade(asyncChannel, logger)
                            : UpgradeResult.notUpgraded(asyncChannel)
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(
                upgradeConfiguration: serverUpgradeConfiguration)
            configuration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            configuration.enableErrorHandling = false  // handled by Hummingbird
            configuration.enableResponseHeaderValidation = false  // Swift HTTP Types validate
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                configuration: configuration)
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// Serves plain HTTP until the connection ends; returns as soon as a WebSocket is upgraded
    /// (its handler then lives in the channel pipeline, with no task).
    public func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .webSocket:
                logger.debug("Engine.IO WebSocket upgrade")
            case .notUpgraded(let http1):
                await handleHTTP(asyncChannel: http1, logger: logger)
            case .failedUpgrade(let http1, let logger):
                logger.debug("WebSocket upgrade refused")
                await Self.writeFailedUpgrade(asyncChannel: http1, logger: logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("Upgrade failed as input was closed")
        } catch {
            logger.debug("Error handling upgrade result", metadata: ["error": "\(error)"])
        }
    }

    /// Answers a refused upgrade with 400 and closes the connection.
    static func writeFailedUpgrade(
        asyncChannel: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger
    ) async {
        do {
            try await asyncChannel.executeThenClose { _, outbound in
                let head = HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])
                try await outbound.write(contentsOf: [.head(head), .end(nil)])
            }
        } catch {
            logger.trace("Failed to write the refused upgrade response", metadata: ["error": "\(error)"])
        }
    }

    /// NIO's upgrader only looks at the first request of a connection: an upgrade request later
    /// on a kept-alive connection is redirected to the same URI on a new connection.
    static func upgradeAwareResponder(_ responder: @escaping HTTPChannelHandler.Responder)
        -> HTTPChannelHandler.Responder
    {
        struct RedirectCloseError: Error {}
        return { request, responseWriter, channel in
            guard request.headers[.upgrade]?.lowercased() == "websocket" else {
                try await responder(request, responseWriter, channel)
                return
            }
            var path = request.uri.path
            if let query = request.uri.query { path += "?\(query)" }
            let response = HTTPResponse(
                status: .temporaryRedirect, headerFields: [.connection: "close", .location: path])
            try await responseWriter.writeResponse(response)
            throw RedirectCloseError()
        }
    }
}
