/// Socket.IO server settings. Defaults follow the reference Node.js server unless noted.
public struct SocketIOConfiguration: Sendable {
    /// Engine.IO settings (heartbeat, payload and queue caps, origins, CORS, compression).
    public var engine: EngineIOConfiguration = .init()
    /// Mount path. Default `/socket.io`.
    public var path: String = "/socket.io"
    /// An Engine.IO session that has not joined any namespace within this time is closed.
    /// Default 45 s.
    public var connectTimeout: Duration = .seconds(45)
    /// Most binary attachments in one packet. Default 10.
    public var maxAttachments: Int = 10
    /// Limits for the JSON part of every packet (depth, value count, bytes).
    /// Default depth 32, 100 000 values, bytes = `engine.maxPayload`.
    public var jsonLimits: JSONLimits? = nil
    /// Default timeout of `emitWithAck`. Default 10 s.
    public var ackTimeout: Duration = .seconds(10)
    /// Connection state recovery; nil (default) turns it off.
    public var connectionStateRecovery: ConnectionStateRecovery? = nil

    public init() {}

    var effectiveJSONLimits: JSONLimits {
        jsonLimits ?? JSONLimits(maxDepth: 32, maxValues: 100_000, maxBytes: engine.maxPayload)
    }
}

/// Connection state recovery settings (Socket.IO v4.6+ semantics).
///
/// With recovery on, broadcasts carry an offset as their last argument, the CONNECT response
/// carries a private session id `pid`, and a client that reconnects with `{"pid","offset"}`
/// in its CONNECT auth gets its id, rooms and data back plus every missed broadcast.
public struct ConnectionStateRecovery: Sendable {
    /// How long a disconnected session can be recovered. Default 2 minutes.
    public var maxDisconnectionDuration: Duration = .seconds(120)
    /// Skip the namespace middlewares when a session is recovered. Default true.
    public var skipMiddlewares: Bool = true
    /// Where sessions and broadcast packets are kept. Default: an in-memory store with a
    /// bounded window (`InMemoryRecoveryStore`).
    public var store: any SocketIORecoveryStore

    public init(
        maxDisconnectionDuration: Duration = .seconds(120),
        skipMiddlewares: Bool = true,
        store: (any SocketIORecoveryStore)? = nil
    ) {
        self.maxDisconnectionDuration = maxDisconnectionDuration
        self.skipMiddlewares = skipMiddlewares
        self.store = store ?? InMemoryRecoveryStore(maxDisconnectionDuration: maxDisconnectionDuration)
    }
}
