/// Settings of an `MQTTClient`. Every field has a documented default; `validate()` runs once when
/// the client is created.
public struct MQTTConfiguration: Sendable {
    /// MQTT protocol version.
    public enum ProtocolVersion: Sendable, Hashable {
        /// MQTT 3.1.1. Session lifetime is decided by the broker (`persistent_client_expiration`).
        case v311
        /// MQTT 5. Session lifetime is `sessionExpiry`.
        case v5
    }

    /// When the client acknowledges incoming QoS 1/2 messages to the broker.
    public enum Acknowledgement: Sendable, Hashable {
        /// The application calls `MQTTMessageBatch.acknowledge()` when the messages are safe; the
        /// client withholds the acknowledgements (and all other writes) until then. At least once.
        case deferred
        /// The client acknowledges as soon as it has read a message, before the application sees it
        /// (like `mosquitto_sub`). At most once for the application; for dashboards and the like.
        case automatic
    }

    /// User name and password sent in CONNECT.
    public struct Credentials: Sendable, Hashable {
        public var username: String
        public var password: String?
        public init(username: String, password: String? = nil) {
            self.username = username
            self.password = password
        }
    }

    /// TLS settings (PEM files). Set `caFile` or `caPath`, or `useSystemCertificates`.
    public struct TLS: Sendable, Hashable {
        /// PEM file with the trusted CA certificates.
        public var caFile: String?
        /// Folder with trusted CA certificates (hashed names, `c_rehash`).
        public var caPath: String?
        /// Client certificate (PEM), for mutual TLS; needs `keyFile`.
        public var certificateFile: String?
        /// Client private key (PEM, unencrypted).
        public var keyFile: String?
        /// Trust the operating system's CA store. Default `false`.
        public var useSystemCertificates: Bool = false
        /// Verify the broker certificate. Default `true`; `false` only for tests.
        public var verifyPeer: Bool = true
        /// Skip the host-name check of the broker certificate. Default `false`; insecure.
        public var allowHostnameMismatch: Bool = false
        /// `tlsv1.2` or `tlsv1.3`; `nil` lets OpenSSL choose. Default `nil`.
        public var version: String?

        public init(caFile: String? = nil, caPath: String? = nil, certificateFile: String? = nil, keyFile: String? = nil) {
            self.caFile = caFile
            self.caPath = caPath
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// The message the broker publishes when this client goes away without DISCONNECT.
    public struct Will: Sendable, Hashable {
        public var topic: String
        public var payload: [UInt8]
        public var qos: MQTTQoS
        public var retain: Bool
        public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) {
            self.topic = topic
            self.payload = payload
            self.qos = qos
            self.retain = retain
        }
    }

    /// Delay between reconnection attempts: starts at `minimum`, doubles up to `maximum`, and goes
    /// back to `minimum` after a successful CONNACK.
    public struct Backoff: Sendable, Hashable {
        public var minimum: Duration
        public var maximum: Duration
        /// Defaults: 100 ms up to 10 s.
        public init(minimum: Duration = .milliseconds(100), maximum: Duration = .seconds(10)) {
            self.minimum = minimum
            self.maximum = maximum
        }
    }

    /// A subscription the client makes on every connection.
    public struct Subscription: Sendable, Hashable {
        /// Topic filter; wildcards and shared subscriptions (`$share/group/filter`) allowed.
        public var filter: String
        public var qos: MQTTQoS
        public init(_ filter: String, qos: MQTTQoS = .atLeastOnce) {
            self.filter = filter
            self.qos = qos
        }
    }

    /// Broker host name or address. Default `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// Broker port. Default 1883 (8883 from an `mqtts://` URL).
    public var port: Int = 1883
    /// Client identifier; must be stable for persistent sessions. Default: `fluxgate-` and 12
    /// random characters.
    public var clientID: String
    /// Default `.v5`.
    public var protocolVersion: ProtocolVersion = .v5
    /// Start a new session (`true`) or resume the stored one (`false`). Default `true`.
    /// Deferred acknowledgement survives a crash only with `false` (and a `sessionExpiry` on MQTT 5).
    public var cleanStart: Bool = true
    /// MQTT 5 Session Expiry Interval: how long the broker keeps the session after a disconnect.
    /// Default zero (ends with the connection). Ignored by MQTT 3.1.1.
    public var sessionExpiry: Duration = .zero
    /// Keepalive interval, 5 s to 65535 s (whole seconds). Default 30 s.
    public var keepAlive: Duration = .seconds(30)
    /// Default `nil` (anonymous).
    public var credentials: Credentials?
    /// Default `nil` (plain TCP).
    public var tls: TLS?
    /// Default `nil`.
    public var will: Will?
    /// Default 100 ms ... 10 s.
    public var reconnectBackoff = Backoff()
    /// Subscriptions made on every connection, before any message is read on it. Prefer these to
    /// `MQTTClient.subscribe` with deferred acknowledgement: a persistent session delivers queued
    /// messages right after CONNACK, and a later SUBSCRIBE would wait behind their
    /// acknowledgements. Default none.
    public var subscriptions: [Subscription] = []
    /// Default `.deferred`.
    public var acknowledgement: Acknowledgement = .deferred
    /// Most messages in one batch (about: one read call may bring a few more). Default 1024.
    public var maxBatchSize: Int = 1024
    /// Most messages held by the client: batches waiting for the application plus, with deferred
    /// acknowledgement, delivered but unacknowledged ones. Reading stops at the bound (the broker
    /// then queues). Default 8192.
    public var bufferLimit: Int = 8192
    /// With deferred acknowledgement, how long the client keeps reading further batches while
    /// earlier ones are unacknowledged (nothing is written meanwhile: no acknowledgements, no
    /// PINGREQ, no publications). After that it reads nothing more until everything delivered is
    /// acknowledged, then writes. Default 20 ms: enough to have the next batch ready while the
    /// application stores one, short enough that acknowledgements leave steadily (a long
    /// read-ahead halved the drain rate in `LoadHarness mqtt`: the broker's in-flight window runs
    /// dry while the acknowledgements wait). Must be under `keepAlive / 2`.
    public var maxReadAhead: Duration = .milliseconds(20)
    /// MQTT 5 Receive Maximum: how many unacknowledged QoS 1/2 messages the broker may send at once.
    /// Default 65535. (For 3.1.1 the broker's `max_inflight_messages` applies; mosquitto's default
    /// of 20 throttles deferred acknowledgement: raise it.)
    public var receiveMaximum: Int = 65535
    /// On graceful shutdown, how long to wait for the application to acknowledge what it was given
    /// (and for QoS 1/2 publications to complete) before disconnecting. Default 5 s.
    public var shutdownGracePeriod: Duration = .seconds(5)

    /// A configuration for `host:port` with a random client id.
    public init(host: String = "127.0.0.1", port: Int = 1883, clientID: String? = nil) {
        self.host = host
        self.port = port
        self.clientID = clientID ?? Self.randomClientID()
    }

    /// A configuration from `mqtt://host[:port]` or `mqtts://host[:port]` (TLS with the system CA
    /// store); `mqtt://user:password@host` sets credentials.
    ///
    /// - Throws: `MQTTError.Code.invalidConfiguration` for another scheme, a missing host or a bad port.
    public init(url: String, clientID: String? = nil) throws(MQTTError) {
        self.init(clientID: clientID)
        let parsed = try MQTTURL.parse(url)
        host = parsed.host
        port = parsed.port
        if parsed.tls {
            var tls = TLS()
            tls.useSystemCertificates = true
            self.tls = tls
        }
        if let username = parsed.username {
            credentials = Credentials(username: username, password: parsed.password)
        }
    }

    /// Checks every field; the client calls it once at creation.
    public func validate() throws(MQTTError) {
        if host.isEmpty { throw .invalidConfiguration("host is empty; set MQTTConfiguration.host") }
        if !(1...65535).contains(port) { throw .invalidConfiguration("port \(port) is not in 1...65535") }
        if clientID.isEmpty || clientID.utf8.count > 65535 {
            throw .invalidConfiguration("clientID must be 1...65535 bytes")
        }
        let keepAliveSeconds = keepAlive.components.seconds
        if keepAliveSeconds < 5 || keepAliveSeconds > 65535 {
            throw .invalidConfiguration("keepAlive \(keepAlive) is not in 5 s...65535 s (libmosquitto's range)")
        }
        if sessionExpiry < .zero || sessionExpiry.components.seconds > Int64(UInt32.max) {
            throw .invalidConfiguration("sessionExpiry \(sessionExpiry) is not in 0...\(UInt32.max) s")
        }
        if protocolVersion == .v311 && sessionExpiry != .zero {
            throw .invalidConfiguration("sessionExpiry needs MQTT 5; with 3.1.1 the broker's persistent_client_expiration decides")
        }
        if subscriptions.contains(where: { $0.filter.isEmpty }) {
            throw .invalidConfiguration("a subscription filter is empty")
        }
        if maxBatchSize < 1 { throw .invalidConfiguration("maxBatchSize must be at least 1") }
        if bufferLimit < maxBatchSize {
            throw .invalidConfiguration("bufferLimit (\(bufferLimit)) must be at least maxBatchSize (\(maxBatchSize))")
        }
        if !(1...65535).contains(receiveMaximum) {
            throw .invalidConfiguration("receiveMaximum \(receiveMaximum) is not in 1...65535")
        }
        if reconnectBackoff.minimum <= .zero || reconnectBackoff.maximum < reconnectBackoff.minimum {
            throw .invalidConfiguration("reconnectBackoff needs 0 < minimum <= maximum")
        }
        if maxReadAhead < .zero || shutdownGracePeriod < .zero {
            throw .invalidConfiguration("maxReadAhead and shutdownGracePeriod must not be negative")
        }
        if maxReadAhead >= keepAlive / 2 {
            throw .invalidConfiguration(
                "maxReadAhead (\(maxReadAhead)) must be under keepAlive / 2 (\(keepAlive / 2)): nothing, not even PINGREQ, is written meanwhile"
            )
        }
        if let will, will.topic.isEmpty || will.topic.contains("+") || will.topic.contains("#") {
            throw .invalidConfiguration("will topic '\(will.topic)' must be a non-empty topic without wildcards")
        }
        if let tls, tls.caFile == nil, tls.caPath == nil, !tls.useSystemCertificates {
            throw .invalidConfiguration("TLS needs caFile, caPath or useSystemCertificates")
        }
        if let tls, (tls.certificateFile == nil) != (tls.keyFile == nil) {
            throw .invalidConfiguration("TLS certificateFile and keyFile go together")
        }
    }

    static func randomClientID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return "fluxgate-" + String((0..<12).map { _ in alphabet.randomElement() ?? "x" })
    }
}

/// `mqtt://[user[:password]@]host[:port]` parsing without Foundation.
enum MQTTURL {
    struct Parsed {
        var host: String
        var port: Int
        var tls: Bool
        var username: String?
        var password: String?
    }

    static func parse(_ url: String) throws(MQTTError) -> Parsed {
        let tls: Bool
        let rest: Substring
        if url.hasPrefix("mqtt://") || url.hasPrefix("tcp://") {
            tls = false
            rest = url.drop(while: { $0 != "/" }).dropFirst(2)
        } else if url.hasPrefix("mqtts://") || url.hasPrefix("ssl://") {
            tls = true
            rest = url.drop(while: { $0 != "/" }).dropFirst(2)
        } else {
            throw .invalidConfiguration("MQTT URL '\(url)' must start with mqtt:// or mqtts://")
        }
        var authority = rest.prefix(while: { $0 != "/" })
        var username: String?
        var password: String?
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                username = String(userInfo[..<colon])
                password = String(userInfo[userInfo.index(after: colon)...])
            } else {
                username = String(userInfo)
            }
        }
        var host = authority
        var port = tls ? 8883 : 1883
        if authority.hasPrefix("[") {  // [::1]:1883
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidConfiguration("MQTT URL '\(url)' has an unclosed IPv6 bracket")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                    throw .invalidConfiguration("MQTT URL '\(url)' has a bad port")
                }
                port = value
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else {
                throw .invalidConfiguration("MQTT URL '\(url)' has a bad port; expected mqtt://host:1-65535")
            }
            port = value
        }
        if host.isEmpty { throw .invalidConfiguration("MQTT URL '\(url)' has no host") }
        return Parsed(host: String(host), port: port, tls: tls, username: username, password: password)
    }
}
