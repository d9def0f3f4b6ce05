import Telemetry

/// Settings of one hub instance. Every field has a documented default; validate with
/// ``validate()`` once at start-up.
public struct HubConfiguration: Sendable {
    /// Kafka brokers, `host:port` each. Default: `localhost:9092`.
    public var kafkaBrokers: [String] = ["localhost:9092"]
    /// Topic names (prefix). Default: `fluxgate.`.
    public var topics: FluxgateTopics = FluxgateTopics()
    /// A name for this instance, used in the Kafka client id and in provisional note ids.
    /// Default: `hub`. Give every instance of a deployment a different one.
    public var instanceID: String = "hub"
    /// HTTP listen address. Default: `0.0.0.0`.
    public var host: String = "0.0.0.0"
    /// HTTP port for the dashboards, `/api/*`, Socket.IO and the operational endpoints.
    /// Default: 8080 (0 picks a free port; tests only).
    public var httpPort: Int = 8080
    /// Access tokens. Empty (default): no authentication. Otherwise Socket.IO handshakes need
    /// `auth.token` and `/api/*` needs `Authorization: Bearer <token>` (or `?token=`) from this set.
    public var tokens: Set<String> = []
    /// Folder with the dashboards (`index.html`, `css/`, `js/`). Default: `dashboards`.
    public var dashboardsDirectory: String = "dashboards"
    /// Folder with `socket.io/socket.io.min.js` (made by `scripts/bootstrap.sh`). Default: `vendor`.
    public var vendorDirectory: String = "vendor"
    /// Browser origins allowed besides the hub's own (same host and port as the request's
    /// `Host`). Default: none.
    public var allowedOrigins: Set<String> = []
    /// How long readings and statistics are kept per device for `history`. Default: 10 min.
    public var historyDuration: Duration = .seconds(600)
    /// How many records back from the end of each readings and stats partition the hub starts
    /// reading at start-up, to rebuild the recent history (older ones than `historyDuration`
    /// are skipped). Default: 50 000.
    public var warmUpRecordsPerPartition: Int = 50_000
    /// Most readings kept per device. Default: 6000 (hub-api.md).
    public var maxReadingsPerDevice: Int = 6000
    /// Most statistics windows kept per device. Default: 2000.
    public var maxStatsPerDevice: Int = 2000
    /// Most notes kept per device. Default: 100.
    public var maxNotesPerDevice: Int = 100
    /// Most alerts in a device's `history`. Default: 100.
    public var maxAlertsInHistory: Int = 100
    /// How long cleared alerts stay known. Default: 24 h.
    public var clearedAlertRetention: Duration = .seconds(86_400)
    /// Most devices the hub keeps state for; further devices are not tracked. Default: 100 000.
    public var maxDevices: Int = 100_000
    /// A device with no reading for this long (wall clock) is reported `offline`. Default: 30 s.
    public var offlineTimeout: Duration = .seconds(30)
    /// How long `alert:ack` and `note` wait for Kafka before answering `unavailable`. Default: 5 s.
    public var operatorWriteTimeout: Duration = .seconds(5)
    /// Whether the hub emits the `acknowledged` transition itself when it reads an acknowledgement
    /// from the operator topic (see docs/hub.md). Default: true.
    public var emitAcknowledgedTransitions: Bool = true
    /// Most Engine.IO sessions; further handshakes are refused. Default: 10 000.
    public var maxClients: Int = 10_000
    /// Per-client send queue caps (the SocketIO library closes a session that passes them).
    /// Defaults: 4096 packets, 16 MiB.
    public var maxQueuedPackets: Int = 4096
    public var maxQueuedBytes: Int = 16 << 20
    /// Whether connection state recovery backed by Kafka is on: a dashboard that reconnects to
    /// this or any other hub instance, or to a restarted one, gets what it missed while Kafka
    /// still holds it, or `history-lost` (docs/hub.md "Recovery"). Default: true.
    public var connectionStateRecovery: Bool = true
    /// The topic holding dashboard sessions for recovery (compacted, key = session `pid`):
    /// `<prefix>hub-sessions`. The hub creates it (one partition) when it is missing.
    public var sessionsTopic: String { topics.prefix + "hub-sessions" }
    /// How long a recovery may take (finding the session, reading the missed events from Kafka)
    /// before the client gets a fresh session and `history-lost`. Default: 10 s.
    public var recoveryTimeout: Duration = .seconds(10)
    /// Most events replayed to one recovering client; more missed events end in `history-lost`
    /// (reloading is cheaper, and the replay must fit the client's send queue). Default: 2000.
    public var maxRecoveredEvents: Int = 2000
    /// Most recoveries reading Kafka at once (each uses a short-lived consumer); further ones wait
    /// their turn within `recoveryTimeout`, so that a mass reconnect after a restart cannot
    /// start thousands of consumers. Default: 8.
    public var maxConcurrentRecoveries: Int = 8
    /// How long after its last `subscribe`/`unsubscribe` a session can be recovered. Default: 24 h.
    public var sessionRetention: Duration = .seconds(86_400)
    /// Most sessions every hub keeps for recovery (oldest forgotten first). Default: 100 000.
    public var maxRecoverableSessions: Int = 100_000
    /// Kafka consumer session/heartbeat are not used (no group); this is the interval of the
    /// housekeeping tick (offline detection, pruning, gauges). Default: 1 s.
    public var tickInterval: Duration = .seconds(1)
    /// Extra librdkafka properties for the consumer and producer. Default: empty.
    public var kafkaProperties: [String: String] = [:]
    /// Extra librdkafka properties for the consumers only, applied after ``kafkaProperties``
    /// (for example `fetch.wait.max.ms`, see `KafkaConsumerConfiguration.maxFetchWait`).
    /// Default: empty.
    public var kafkaConsumerProperties: [String: String] = [:]

    public init() {}

    /// Checks the settings; throws ``HubError`` `hub.configuration` naming the bad field.
    public func validate() throws(HubError) {
        if kafkaBrokers.isEmpty { throw HubError(.configuration, "kafka brokers: name at least one host:port") }
        if !topics.isValid { throw HubError(.configuration, "topic prefix '\(topics.prefix)' has characters Kafka does not allow") }
        if !(0...65535).contains(httpPort) { throw HubError(.configuration, "http port \(httpPort) is not in 0...65535") }
        if instanceID.isEmpty || instanceID.count > 64 {
            throw HubError(.configuration, "instance id must be 1 to 64 characters")
        }
        if tokens.contains(where: \.isEmpty) { throw HubError(.configuration, "tokens must not be empty strings") }
        if maxRecoveredEvents < 1 || maxRecoveredEvents >= maxQueuedPackets {
            throw HubError(.configuration, "max recovered events must be at least 1 and below max queued packets (\(maxQueuedPackets))")
        }
        if recoveryTimeout <= .zero { throw HubError(.configuration, "recovery timeout must be positive") }
        if maxConcurrentRecoveries < 1 { throw HubError(.configuration, "max concurrent recoveries must be at least 1") }
        if maxReadingsPerDevice < 1 || maxStatsPerDevice < 1 || maxNotesPerDevice < 1 || maxDevices < 1 {
            throw HubError(.configuration, "history caps must be at least 1")
        }
    }
}
