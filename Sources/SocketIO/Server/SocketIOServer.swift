import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A Socket.IO v5 server (over Engine.IO v4) for a Hummingbird application.
///
/// ```swift
/// let io = SocketIOServer(configuration: .init())
/// io.of("/") { socket in
///     socket.on("subscribe") { arguments, ack in
///         socket.join("device:d1")
///         ack?("ok")
///     }
/// }
/// let router = Router(context: BasicWebSocketRequestContext.self)
/// io.mount(on: router)
/// let app = Application(
///     router: router,
///     server: .socketIO(io, webSocketRouter: router))
/// io.to("device:d1").emit("reading", ["value": 21.5])
/// ```
public final class SocketIOServer: Sendable {
    /// The settings the server was created with.
    public let configuration: SocketIOConfiguration
    /// The Engine.IO server underneath.
    public let engine: EngineIOServer
    let decodeLimits: SocketIODecodeLimits
    private let registry = NIOLockedValueBox(Registry())
    private let clients = NIOLockedValueBox([String: SocketIOClient]())
    private let link: ServerLink

    struct Registry {
        var namespaces: [String: SocketIONamespace] = [:]
        var groups: [SocketIONamespaceGroup] = []
        var dynamicCount = 0
    }

    /// Most namespaces created on demand by `of(matching:)` groups.
    static let maxDynamicNamespaces = 10_000

    final class ServerLink: Sendable {
        let server = NIOLockedValueBox<SocketIOServer?>(nil)
        func get() -> SocketIOServer? { server.withLockedValue { $0 } }
    }

    /// Creates a server. Timers run on `eventLoopGroup` (default: NIO's shared group).
    public init(
        configuration: SocketIOConfiguration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "SocketIO")
    ) {
        self.configuration = configuration
        self.decodeLimits = SocketIODecodeLimits(
            json: configuration.effectiveJSONLimits, maxAttachments: configuration.maxAttachments,
            maxAttachmentBytes: configuration.engine.maxPayload)
        let link = ServerLink()
        self.link = link
        self.engine = EngineIOServer(
            configuration: configuration.engine, eventLoopGroup: eventLoopGroup, logger: logger,
            handlers: EngineIOHandlers(
                opened: { session in link.get()?.sessionOpened(session) },
                received: { session, message in try await link.get()?.received(session, message) },
                closed: { session, reason in link.get()?.sessionClosed(session, reason) }
            ))
        link.server.withLockedValue { $0 = self }
        _ = of("/")
    }

    // MARK: - Namespaces

    /// The namespace `name` (created if needed), optionally setting its connection handler.
    @discardableResult
    public func of(_ name: String, onConnection: SocketIOConnectionHandler? = nil) -> SocketIONamespace {
        let name = name.hasPrefix("/") ? name : "/" + name
        let namespace = registry.withLockedValue { registry in
            if let existing = registry.namespaces[name] { return existing }
            let created = SocketIONamespace(name: name, hooks: NamespaceHooks(), server: self)
            registry.namespaces[name] = created
            return created
        }
        if let onConnection { namespace.onConnection(onConnection) }
        return namespace
    }

    /// Accepts every namespace whose name `predicate` accepts, creating it on first connect.
    @discardableResult
    public func of(
        matching predicate: @escaping @Sendable (String) -> Bool, onConnection: SocketIOConnectionHandler? = nil
    ) -> SocketIONamespaceGroup {
        let group = SocketIONamespaceGroup(predicate: predicate)
        if let onConnection { group.onConnection(onConnection) }
        registry.withLockedValue { $0.groups.append(group) }
        return group
    }

    /// The existing namespace `name`.
    public func namespace(_ name: String) -> SocketIONamespace? {
        registry.withLockedValue { $0.namespaces[name] }
    }

    func resolveNamespace(_ name: String) -> SocketIONamespace? {
        registry.withLockedValue { registry in
            if let existing = registry.namespaces[name] { return existing }
            guard registry.dynamicCount < Self.maxDynamicNamespaces,
                let group = registry.groups.first(where: { $0.predicate(name) })
            else { return nil }
            let created = SocketIONamespace(name: name, hooks: group.hooks, server: self)
            registry.namespaces[name] = created
            registry.dynamicCount += 1
            return created
        }
    }

    /// The main namespace `/`.
    public var mainNamespace: SocketIONamespace { of("/") }

    /// A broadcast to `room` in the main namespace.
    public func to(_ room: String) -> SocketIOBroadcast { mainNamespace.to(room) }

    /// A broadcast to the main namespace except `room`.
    public func except(_ room: String) -> SocketIOBroadcast { mainNamespace.except(room) }

    /// Emits to every socket of the main namespace.
    public func emit(_ event: String, _ arguments: JSONValue..., offset: String? = nil) {
        SocketIOBroadcast(namespace: mainNamespace).emit(event, arguments, offset: offset)
    }

    /// Emits to every socket of the main namespace, with an array of arguments.
    public func emit(_ event: String, _ arguments: [JSONValue], offset: String? = nil) {
        SocketIOBroadcast(namespace: mainNamespace).emit(event, arguments, offset: offset)
    }

    /// Open Engine.IO connections.
    public var connectionCount: Int { clients.withLockedValue { $0.count } }

    // MARK: - Hummingbird

    /// Adds the Socket.IO endpoint at `configuration.path` to `router`. Use the same router as
    /// the application's `webSocketRouter`: `server: .socketIO(io, webSocketRouter: router)`.
    public func mount<Context: WebSocketRequestContext & RequestContext>(on router: Router<Context>) {
        engine.mount(on: router, at: configuration.path)
    }

    /// WebSocket settings for hummingbird-websocket's `.http1WebSocketUpgrade` server builder
    /// (frame cap = `maxPayload`, no automatic pings, permessage-deflate when configured).
    /// `.socketIO(_:webSocketRouter:)` needs none of this and uses less memory per connection.
    public var webSocketUpgradeConfiguration: HTTP1WebSocketUpgradeChannel.Configuration {
        engine.webSocketUpgradeConfiguration
    }

    /// Closes every connection (reason `server shutting down`). Clients may connect again; to
    /// stop for good use ``shutDown()``.
    public func close() {
        engine.closeAll()
    }

    /// Stops for good: refuses every new connection from now on, then closes every connection
    /// (reason `server shutting down`). ``run()`` does this on graceful shutdown, so that a
    /// client reconnecting while the HTTP server is still stopping cannot open a session that
    /// would outlive the server (see `EngineIOServer.shutDown()`).
    public func shutDown() {
        engine.shutDown()
    }

    // MARK: - Engine callbacks

    private func sessionOpened(_ session: EngineIOSession) {
        let client = SocketIOClient(session: session, server: self)
        clients.withLockedValue { $0[session.id] = client }
        client.start()
    }

    private func received(_ session: EngineIOSession, _ message: EngineIOMessage) async throws {
        guard let client = clients.withLockedValue({ $0[session.id] }) else { return }
        try await client.received(message)
    }

    private func sessionClosed(_ session: EngineIOSession, _ reason: EngineIOCloseReason) {
        let client = clients.withLockedValue { $0.removeValue(forKey: session.id) }
        client?.closed(reason: reason)
    }

    static func randomID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return String((0..<20).map { _ in alphabet[Int(generator.next() % 64)] })
    }
}

extension SocketIOServer: Service {
    /// Runs until graceful shutdown (or cancellation), then refuses new connections and closes
    /// every connection (``shutDown()``; reason `server shutting down`, which connection state
    /// recovery treats as recoverable). Add the server to the `ServiceGroup` after the
    /// Hummingbird application so that it stops first.
    public func run() async throws {
        try? await gracefulShutdown()
        shutDown()
    }
}
