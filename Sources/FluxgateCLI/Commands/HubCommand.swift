import ArgumentParser
import Foundation
import Hub
import Logging
import Telemetry

/// `fluxgate hub`: the Socket.IO hub and the dashboards against a Kafka cluster.
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Consume Kafka and serve the live dashboards over Socket.IO and HTTP.",
        discussion: """
            Reads every partition of <prefix>readings, stats, alerts, status and operator (no
            consumer group: every instance sees every event) and serves, on one port, the
            dashboards, /socket.io/, /api/*, /healthz, /readyz and /metrics. Run several
            instances behind a load balancer with sticky sessions; give each an --instance-id.
            See docs/hub.md.

            Examples:
              fluxgate hub --kafka-brokers kafka-1:9092 --http-port 8080 --tokens s3cret
              FLUXGATE_KAFKA_BROKERS=localhost:9092 fluxgate hub --config hub.yaml
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var kafkaConsumer: KafkaConsumerOptions

    @Option(help: "Port of the dashboards, Socket.IO, /api and /metrics. [env: FLUXGATE_HTTP_PORT] [default: 8080]")
    var httpPort: Int?

    @Option(help: "Comma-separated access tokens; none means no authentication. [env: FLUXGATE_TOKENS]")
    var tokens: String?

    @Option(help: "Folder with the dashboards. [env: FLUXGATE_DASHBOARDS_DIR] [default: dashboards]")
    var dashboardsDir: String?

    @Option(help: "Folder with socket.io/socket.io.min.js (scripts/bootstrap.sh). [env: FLUXGATE_VENDOR_DIR] [default: vendor]")
    var vendorDir: String?

    @Option(help: "Name of this instance, unique per deployment. [env: FLUXGATE_INSTANCE_ID] [default: the host name]")
    var instanceId: String?

    @Option(help: "Extra browser origins allowed besides the hub's own, comma-separated. [env: FLUXGATE_ALLOWED_ORIGINS]")
    var allowedOrigins: String?

    @Option(help: "Silence after which a device is shown offline. [env: FLUXGATE_OFFLINE_TIMEOUT] [default: 30s]")
    var offlineTimeout: String?

    static let httpPortSetting = Setting("http-port", default: "8080", help: "Port of the hub's HTTP server.")
    static let tokensSetting = Setting("tokens", default: nil, help: "Comma-separated access tokens.")
    static let dashboardsSetting = Setting("dashboards-dir", default: "dashboards", help: "Folder with the dashboards.")
    static let vendorSetting = Setting("vendor-dir", default: "vendor", help: "Folder with socket.io/socket.io.min.js.")
    static let instanceSetting = Setting("instance-id", default: nil, help: "Name of this hub instance.")
    static let originsSetting = Setting("allowed-origins", default: nil, help: "Extra allowed browser origins.")
    static let offlineSetting = Setting("offline-timeout", default: "30s", help: "Device offline timeout.")
    static let settings = CommonOptions.settings + KafkaOptions.settings + KafkaConsumerOptions.settings
        + [httpPortSetting, tokensSetting, dashboardsSetting, vendorSetting, instanceSetting, originsSetting, offlineSetting]

    /// Comma-separated non-empty items.
    static func list(_ text: String) -> [String]? {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        return items.contains(where: \.isEmpty) ? nil : items
    }

    /// A folder setting (dashboards, vendor) that must name an existing folder.
    static func folder(_ setting: Setting, _ resolver: ConfigurationResolver) throws -> String {
        try resolver.required(setting, expected: "an existing folder (relative paths start at the working directory)", ValueParsers.existingDirectory)
    }

    /// The hub configuration from flags, environment, file and defaults.
    func hubConfiguration(_ resolver: ConfigurationResolver) throws -> HubConfiguration {
        var configuration = HubConfiguration()
        configuration.topics = try common.topics(resolver)
        configuration.kafkaBrokers = try kafka.bootstrapServers(resolver)
        configuration.kafkaConsumerProperties = try kafkaConsumer.consumerProperties(resolver)
        configuration.httpPort = try resolver.required(Self.httpPortSetting, expected: "a port number 0-65535", ValueParsers.port)
        configuration.tokens = Set(try resolver.value(Self.tokensSetting, expected: "token[,token...]", Self.list) ?? [])
        configuration.dashboardsDirectory = try Self.folder(Self.dashboardsSetting, resolver)
        configuration.vendorDirectory = try Self.folder(Self.vendorSetting, resolver)
        configuration.instanceID = try resolver.value(Self.instanceSetting, expected: "1 to 64 characters") {
            (1...64).contains($0.count) ? $0 : nil
        } ?? String(ProcessInfo.processInfo.hostName.prefix(64))
        configuration.allowedOrigins = Set(
            try resolver.value(Self.originsSetting, expected: "scheme://host[:port][,...]", ValueParsers.originList) ?? [])
        configuration.offlineTimeout = try resolver.required(
            Self.offlineSetting, expected: "a duration such as 30s", ValueParsers.duration)
        return configuration
    }

    func run() async throws {
        let resolver = try common.resolver(
            flags: kafka.flags.merging(kafkaConsumer.flags) { $1 }.merging([
                "http-port": httpPort.map(String.init), "tokens": tokens, "dashboards-dir": dashboardsDir,
                "vendor-dir": vendorDir, "instance-id": instanceId, "allowed-origins": allowedOrigins,
                "offline-timeout": offlineTimeout,
            ]) { $1 },
            known: Self.settings
        )
        let logger = try common.logger(resolver, label: "fluxgate.hub")
        let configuration = try hubConfiguration(resolver)
        try configuration.validate()
        let runtime = StageRuntime(logger: logger)
        let hub = try Hub(configuration: configuration, observability: runtime.routes, logger: logger)
        logger.info(
            "hub starting",
            metadata: [
                "url": "http://localhost:\(configuration.httpPort)/", "instance": "\(configuration.instanceID)",
                "kafka": "\(configuration.kafkaBrokers.joined(separator: ","))",
                "auth": "\(configuration.tokens.isEmpty ? "none" : "tokens")",
            ]
        )
        // The hub serves /healthz, /readyz and /metrics itself (no separate operations server).
        try await runtime.run(hub.services, httpPort: nil)
    }
}
