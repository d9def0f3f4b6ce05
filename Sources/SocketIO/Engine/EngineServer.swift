import HTTPTypes
import Hummingbird
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket

/// Callbacks from an `EngineIOServer` to the layer above it.
public struct EngineIOHandlers: Sendable {
    /// A session opened (before any message of it is delivered).
    public var opened: @Sendable (EngineIOSession) -> Void
    /// A message arrived. Messages of one session are delivered one at a time, in order.
    /// Throwing closes the session with reason `parse error`.
    public var received: @Sendable (EngineIOSession, EngineIOMessage) async throws -> Void
    /// A session closed; called exactly once per session.
    public var closed: @Sendable (EngineIOSession, EngineIOCloseReason) -> Void

    public init(
        opened: @escaping @Sendable (EngineIOSession) -> Void = { _ in },
        received: @escaping @Sendable (EngineIOSession, EngineIOMessage) async throws -> Void,
        closed: @escaping @Sendable (EngineIOSession, EngineIOCloseReason) -> Void = { _, _ in }
    ) {
        self.opened = opened
        self.received = received
        self.closed = closed
    }
}

/// An Engine.IO v4 server: HTTP long-polling and WebSocket on one Hummingbird router path.
public final class EngineIOServer: Sendable {
    /// The settings the server was created with.
    public let configuration: EngineIOConfiguration
    let handlers: EngineIOHandlers
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let sessions = NIOLockedValueBox([String: EngineIOSession]())
    /// Set by ``shutDown()``: no session opens any more. Read and written under `sessions`'s
    /// lock (checked there when a session is added), so no session slips past a shutdown.
    private let accepting = NIOLockedValueBox(true)
    let webSocketIDs = NIOLockedValueBox(0)

    /// Creates a server. Timers run on `eventLoopGroup` (default: NIO's shared group).
    public init(
        configuration: EngineIOConfiguration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "EngineIO"),
        handlers: EngineIOHandlers
    ) {
        self.configuration = configuration
        self.handlers = handlers
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// False once ``shutDown()`` ran: handshakes are refused.
    public var isAcceptingSessions: Bool { accepting.withLockedValue { $0 } }

    /// Open sessions right now.
    public var sessionCount: Int { sessions.withLockedValue { $0.count } }

    /// The open session with this id.
    public func session(id: String) -> EngineIOSession? {
        sessions.withLockedValue { $0[id] }
    }

    /// Closes every session (reason `server shutting down`). New sessions may still open; see
    /// ``shutDown()``.
    public func closeAll() {
        let all = sessions.withLockedValue { Array($0.values) }
        for session in all { session.close(reason: .serverShuttingDown) }
    }

    /// Stops for good: from now on every handshake is refused (HTTP 403 `forbidden` before any
    /// WebSocket upgrade), then every session is closed (reason `server shutting down`).
    ///
    /// Use it when the server stops while the HTTP server in front of it may still accept
    /// connections for a moment. With ``closeAll()`` alone a client that reconnects in that
    /// moment gets a fresh session that nothing closes any more: WebSockets served by
    /// `.socketIO(_:webSocketRouter:)` / `.engineIO(webSocketRouter:configuration:)` live in
    /// their channel pipeline, not in a Hummingbird task, so the application's graceful shutdown
    /// does not end them, and the client stays connected to a server that is gone.
    public func shutDown() {
        let all = sessions.withLockedValue { sessions in
            accepting.withLockedValue { $0 = false }
            return Array(sessions.values)
        }
        for session in all { session.close(reason: .serverShuttingDown) }
    }

    /// The WebSocket settings this server needs from hummingbird-websocket's server builder:
    /// frames up to `maxPayload`, no automatic pings (Engine.IO has its own heartbeat), and
    /// permessage-deflate when configured. Use it as
    /// `.http1WebSocketUpgrade(webSocketRouter: router, configuration: server.webSocketUpgradeConfiguration)`,
    /// or prefer `.engineIO(webSocketRouter:configuration:)`, which serves WebSockets without
    /// a task per connection.
    public var webSocketUpgradeConfiguration: HTTP1WebSocketUpgradeChannel.Configuration {
        .init(ws: Self.webSocketServerConfiguration(configuration))
    }

    static func webSocketServerConfiguration(_ configuration: EngineIOConfiguration) -> WebSocketServerConfiguration {
        var extensions: [WebSocketExtensionFactory] = []
        if let deflate = configuration.perMessageDeflate {
            extensions.append(
                .perMessageDeflate(
                    noContextTakeover: deflate.noContextTakeover,
                    maxDecompressedFrameSize: configuration.maxPayload,
                    minFrameSizeToCompress: deflate.threshold
                ))
        }
        return .init(
            maxFrameSize: configuration.maxPayload,
            extensions: extensions,
            autoPing: .disabled,
            closeTimeout: .seconds(5)
        )
    }

    /// Adds the Engine.IO endpoint at `path` (for example `"/engine.io"`) to `router`. The same
    /// router must also be the application's `webSocketRouter` for the WebSocket transport
    /// (`.engineIO(webSocketRouter:configuration:)` or `.http1WebSocketUpgrade(webSocketRouter:configuration:)`).
    public func mount<Context: WebSocketRequestContext & RequestContext>(on router: Router<Context>, at path: String) {
        let routerPath = RouterPath(path)
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .options, .head] {
            router.on(routerPath, method: method) { request, context in
                await self.respond(to: request, context: context)
            }
        }
    }

    // MARK: - Sessions

    func sessionClosed(_ session: EngineIOSession, reason: EngineIOCloseReason) {
        sessions.withLockedValue { _ = $0.removeValue(forKey: session.id) }
        logger.debug("session closed", metadata: ["sid": "\(session.id)", "reason": "\(reason)"])
        handlers.closed(session, reason)
    }

    func nextWebSocketID() -> Int {
        webSocketIDs.withLockedValue {
            $0 += 1
            return $0
        }
    }

    func makeSession(handshake: EngineIOHandshake, webSocketID: Int?) -> EngineIOSession? {
        var id = ""
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for _ in 0..<20 { id.append(alphabet[Int(generator.next() % 64)]) }
        let session = EngineIOSession(
            id: id, handshake: handshake, configuration: configuration,
            eventLoop: eventLoopGroup.any(), owner: self, webSocketID: webSocketID
        )
        let added = sessions.withLockedValue { sessions -> Bool in
            guard sessions.count < configuration.maxSessions, accepting.withLockedValue({ $0 }) else { return false }
            sessions[id] = session
            return true
        }
        return added ? session : nil
    }

    func openPacket(for session: EngineIOSession, upgrades: [String]) -> EngineFrame {
        let upgradeList = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        let json =
            "{\"sid\":\"\(session.id)\",\"upgrades\":[\(upgradeList)],\"pingInterval\":\(configuration.pingInterval.milliseconds),"
            + "\"pingTimeout\":\(configuration.pingTimeout.milliseconds),\"maxPayload\":\(configuration.maxPayload)}"
        return .control(.open, json)
    }

}
