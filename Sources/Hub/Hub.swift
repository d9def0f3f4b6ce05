import Hummingbird
import HummingbirdWebSocket
import Kafka
import Logging
import Observability
import ServiceLifecycle
import SocketIO
import Telemetry

/// One hub instance, assembled: the Kafka side (``HubService``), the Socket.IO server and the
/// Hummingbird application serving dashboards, `/socket.io/`, `/api/*`, `/healthz`, `/readyz`
/// and `/metrics` on one port.
///
/// ```swift
/// let hub = try Hub(configuration: configuration, observability: routes, logger: logger)
/// let group = ServiceGroup(services: hub.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct Hub: Sendable {
    /// The Kafka consumer/producer side; start it first (it stops last and flushes).
    public let service: HubService
    /// The Socket.IO server (also reachable for tests and embedding).
    public let io: SocketIOServer
    /// Services in start order: the hub service, the HTTP application, the Socket.IO server.
    public let services: [any Service]

    /// Builds a hub; throws ``HubError`` for bad settings and `KafkaError` when the producer
    /// cannot be created.
    public init(configuration: HubConfiguration, observability: ObservabilityRoutes, logger: Logger) throws {
        try configuration.validate()
        let metrics = HubMetrics(topics: [
            configuration.topics.readings, configuration.topics.stats, configuration.topics.alerts,
            configuration.topics.deviceStatus, configuration.topics.operatorActions,
        ])
        let store = HubStore(configuration: configuration)

        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: configuration.kafkaBrokers)
        producerConfiguration.clientID = "fluxgate-hub-\(configuration.instanceID)"
        producerConfiguration.linger = .milliseconds(1)
        // librdkafka fails a record it could not deliver in time, so `unavailable` answers come
        // after about operatorWriteTimeout (send awaits records already handed over).
        producerConfiguration.deliveryTimeout = configuration.operatorWriteTimeout
        producerConfiguration.additionalProperties = configuration.kafkaProperties
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)

        var ioConfiguration = SocketIOConfiguration()
        ioConfiguration.engine.maxSessions = configuration.maxClients + max(16, configuration.maxClients / 100)
        ioConfiguration.engine.maxQueuedPackets = configuration.maxQueuedPackets
        ioConfiguration.engine.maxQueuedBytes = configuration.maxQueuedBytes
        ioConfiguration.engine.maxPayload = 100_000
        // Origins are checked by HubRequestMiddleware (own origin from Host, plus the allow-list).
        ioConfiguration.engine.allowedOrigins = .any
        let sessionWriter = HubSessionWriter()
        let frontier = HubFrontier(encodesOffsets: configuration.connectionStateRecovery)
        let sessions = HubSessionTable(
            maxSessions: configuration.maxRecoverableSessions, retentionMillis: configuration.sessionRetention.milliseconds)
        let recordRouter = HubRecordRouter(
            topics: configuration.topics, store: store,
            emitAcknowledgedTransitions: configuration.emitAcknowledgedTransitions,
            historyMillis: configuration.historyDuration.milliseconds)
        if configuration.connectionStateRecovery {
            let admin = try KafkaAdmin(
                bootstrapServers: configuration.kafkaBrokers, clientID: "fluxgate-hub-\(configuration.instanceID)-recovery",
                additionalProperties: configuration.kafkaProperties, logger: logger)
            let recoveryStore = KafkaRecoveryStore(
                frontier: frontier, sessions: sessions, router: recordRouter, admin: admin, configuration: configuration,
                logger: logger)
            // Middlewares run on recovery too: the token is checked on every hub a session moves to.
            ioConfiguration.connectionStateRecovery = ConnectionStateRecovery(
                maxDisconnectionDuration: configuration.sessionRetention, skipMiddlewares: false, store: recoveryStore)
        }
        let io = SocketIOServer(configuration: ioConfiguration, logger: logger)

        let service = HubService(
            configuration: configuration, store: store, io: io, producer: producer, readiness: observability.readiness,
            metrics: metrics, router: recordRouter, frontier: frontier, sessions: sessions, sessionWriter: sessionWriter, logger: logger)
        HubSocketHandlers(
            configuration: configuration, store: store, producer: producer, metrics: metrics, logger: logger,
            noteCounter: NoteCounter(), sessions: sessions, sessionWriter: sessionWriter, frontier: frontier
        ).install(on: io)

        let router = Router(context: BasicWebSocketRequestContext.self)
        router.add(middleware: HubRequestMiddleware(allowedOrigins: configuration.allowedOrigins, metrics: metrics))
        io.mount(on: router)
        observability.add(to: router)
        let files = HubStaticFiles(
            dashboardsDirectory: configuration.dashboardsDirectory, vendorDirectory: configuration.vendorDirectory)
        router.get("socket.io/socket.io.min.js") { _, context in try await files.socketIOClient(context: context) }
        let api = HubAPI(store: store, tokens: configuration.tokens)
        router.get("api/devices") { request, _ in api.devices(request) }
        router.get("api/devices/:id") { request, context in api.device(request, id: context.parameters.get("id")) }
        router.get("api/alerts") { request, _ in api.alerts(request) }
        for pattern in ["/", ":file", "css/**", "js/**", "img/**"] {
            router.get(RouterPath(pattern)) { request, context in try await files.dashboardFile(request, context: context) }
        }
        let app = Application(
            router: router,
            server: .socketIO(io, webSocketRouter: router),
            configuration: .init(address: .hostname(configuration.host, port: configuration.httpPort), serverName: "fluxgate-hub"),
            logger: logger)

        self.service = service
        self.io = io
        // Stop order is the reverse: Socket.IO closes every connection and refuses new ones
        // (`SocketIOServer.run()` → `shutDown()`), then HTTP, then Kafka. Without the refusal a
        // dashboard reconnecting while HTTP still accepted was recovered by this stopping hub
        // and stayed connected to it after it had stopped, receiving nothing more (#6).
        self.services = [service, app, io]
    }
}
