import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket

extension HTTPServerBuilder {
    /// HTTP/1 with Socket.IO's WebSockets served event-driven (no task per connection; about
    /// a third of the memory per idle connection of `.http1WebSocketUpgrade`):
    ///
    /// ```swift
    /// let app = Application(router: router, server: .socketIO(io, webSocketRouter: router))
    /// ```
    ///
    /// `webSocketRouter` is the router `io` is mounted on. Plain HTTP requests are served by the
    /// application's router as usual; WebSocket upgrades that no Engine.IO endpoint accepts are
    /// refused (400). With permessage-deflate configured
    /// (`EngineIOConfiguration.perMessageDeflate`), every WebSocket is served by
    /// hummingbird-websocket's `.http1WebSocketUpgrade` instead (which compresses, with a reader
    /// and a writer task per connection).
    @preconcurrency
    public static func socketIO<WSResponderBuilder: HTTPResponderBuilder & _HB_SendableMetatype>(
        _ io: SocketIOServer,
        webSocketRouter: WSResponderBuilder,
        http1: HTTP1Channel.Configuration = .init()
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context: WebSocketRequestContext {
        engineIO(webSocketRouter: webSocketRouter, configuration: io.configuration.engine, http1: http1)
    }

    /// HTTP/1 with Engine.IO WebSockets served event-driven; see `socketIO(_:webSocketRouter:http1:)`.
    /// `configuration` is the configuration of the Engine.IO servers mounted on
    /// `webSocketRouter` (its `maxPayload` caps WebSocket frames and messages).
    @preconcurrency
    public static func engineIO<WSResponderBuilder: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: WSResponderBuilder,
        configuration: EngineIOConfiguration,
        http1: HTTP1Channel.Configuration = .init()
    ) -> HTTPServerBuilder where WSResponderBuilder.Responder.Context: WebSocketRequestContext {
        if configuration.perMessageDeflate != nil {
            return .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(http1: http1, ws: EngineIOServer.webSocketServerConfiguration(configuration)))
        }
        let webSocketResponder = webSocketRouter.buildResponder()
        let maxPayload = configuration.maxPayload
        return .init { responder in
            EngineIOUpgradeChannel(
                responder: responder, webSocketResponder: webSocketResponder, http1: http1, maxPayload: maxPayload)
        }
    }
}
