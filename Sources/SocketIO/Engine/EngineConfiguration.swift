/// Which browser origins may open sessions (checked on both transports).
public enum OriginPolicy: Sendable, Hashable {
    /// Every origin, and requests without an `Origin` header.
    case any
    /// Only these exact origins (`scheme://host[:port]`). Requests without an `Origin` header
    /// (non-browser clients) are allowed when `allowMissing` is true.
    case only(Set<String>, allowMissing: Bool = true)

    func allows(_ origin: String?) -> Bool {
        switch self {
        case .any: return true
        case .only(let origins, let allowMissing):
            guard let origin else { return allowMissing }
            return origins.contains(origin)
        }
    }
}

/// Engine.IO server settings. Defaults follow the reference Node.js server.
public struct EngineIOConfiguration: Sendable {
    /// Interval between server pings. Default 25 s.
    public var pingInterval: Duration = .seconds(25)
    /// How long to wait for a pong before closing the session. Default 20 s.
    public var pingTimeout: Duration = .seconds(20)
    /// How long a WebSocket upgrade may take (probe to `5`) before the WebSocket is dropped.
    /// Default 10 s.
    public var upgradeTimeout: Duration = .seconds(10)
    /// Largest message a client may send, in bytes: one WebSocket message, or one HTTP
    /// long-polling POST body (the reference's `maxHttpBufferSize`). Announced to clients as
    /// `maxPayload`. Default 1 000 000.
    public var maxPayload: Int = 1_000_000
    /// Most packets accepted in one long-polling POST. Default 1 000.
    public var maxPacketsPerPayload: Int = 1_000
    /// Send-queue cap per session, in packets. Exceeding it closes the session with reason
    /// `send queue overflow` (the slow-client policy). Default 4 096.
    public var maxQueuedPackets: Int = 4_096
    /// Send-queue cap per session, in bytes. Exceeding it closes the session with reason
    /// `send queue overflow`. Default 16 MiB.
    public var maxQueuedBytes: Int = 16 << 20
    /// Most concurrent sessions; handshakes beyond it are refused with `Forbidden`.
    /// Default 100 000.
    public var maxSessions: Int = 100_000
    /// Allowed transports. Default both.
    public var allowPolling: Bool = true
    /// Allow the WebSocket transport (directly and by upgrade). Default true.
    public var allowWebSocket: Bool = true
    /// Origin allow-list, enforced on polling requests and WebSocket upgrades (403 `Forbidden`).
    /// Default `.any`.
    public var allowedOrigins: OriginPolicy = .any
    /// CORS response headers for browsers on other origins. Default off.
    public var cors: CORSConfiguration? = nil
    /// Compress long-polling responses with gzip or deflate (per `Accept-Encoding`) when they
    /// are at least `httpCompressionThreshold` bytes. Default on.
    public var httpCompression: Bool = true
    /// Smallest long-polling response that is compressed. Default 1 024 bytes.
    public var httpCompressionThreshold: Int = 1_024
    /// WebSocket permessage-deflate (RFC 7692). Default off. It takes effect through
    /// `webSocketUpgradeConfiguration`, which the application's server builder must use.
    public var perMessageDeflate: PerMessageDeflateConfiguration? = nil

    public init() {}
}

/// Cross-origin resource sharing headers on long-polling responses.
public struct CORSConfiguration: Sendable, Hashable {
    /// `Access-Control-Allow-Origin` value: `nil` reflects the request's `Origin` (when the
    /// origin policy allows it), `"*"` allows any. Default `"*"`.
    public var allowOrigin: String?
    /// Send `Access-Control-Allow-Credentials: true`. Default false.
    public var allowCredentials: Bool

    public init(allowOrigin: String? = "*", allowCredentials: Bool = false) {
        self.allowOrigin = allowOrigin
        self.allowCredentials = allowCredentials
    }
}

/// WebSocket permessage-deflate settings.
public struct PerMessageDeflateConfiguration: Sendable, Hashable {
    /// Messages below this size are sent uncompressed. Default 1 024 bytes (as the reference).
    public var threshold: Int
    /// Reset the compression window after each message (less memory per connection).
    /// Default true.
    public var noContextTakeover: Bool

    public init(threshold: Int = 1_024, noContextTakeover: Bool = true) {
        self.threshold = threshold
        self.noContextTakeover = noContextTakeover
    }
}
