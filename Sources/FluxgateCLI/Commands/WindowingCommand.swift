import ArgumentParser
import Foundation
import Kafka
import Logging
import Observability
import Telemetry
import Windowing

/// `fluxgate windowing`: readings in, rolling statistics and threshold alerts out.
struct WindowingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "windowing",
        abstract: "Compute rolling statistics and threshold alerts from the readings in Kafka.",
        discussion: """
            Joins consumer group fluxgate-windowing on <prefix>readings and <prefix>operator,
            writes window statistics to <prefix>stats and alert transitions to <prefix>alerts
            (key = device id), and snapshots its state to the compacted topic
            <prefix>windowing-state, so restarts and rebalances lose no window (docs/windowing.md).
            Without --rules, the built-in standard configuration applies (windows 10s, 1m, 5m/1m
            and the demo's alert rules).

            Examples:
              fluxgate windowing --kafka-brokers kafka-1:9092 --rules rules.yaml
              FLUXGATE_KAFKA_BROKERS=localhost:9092 fluxgate windowing --stats-update-interval 2s
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var kafkaConsumer: KafkaConsumerOptions

    @Option(help: "YAML file with windows and alert rules. [env: FLUXGATE_RULES] [default: built-in standard rules]")
    var rules: String?

    @Option(help: "Port of /healthz, /readyz and /metrics. [env: FLUXGATE_HTTP_PORT] [default: 8082]")
    var httpPort: Int?

    @Option(help: "How often live statistics of open windows are published, or 'off'. [env: FLUXGATE_STATS_UPDATE_INTERVAL] [default: 5s]")
    var statsUpdateInterval: String?

    static let rulesSetting = Setting("rules", default: nil, help: "YAML file with windows and alert rules.")
    static let httpPortSetting = Setting("http-port", default: "8082", help: "Port of the operational endpoints.")
    static let statsUpdateSetting = Setting(
        "stats-update-interval", default: "5s", help: "Interval of live updates of open windows, or 'off'.")
    static let settings = CommonOptions.settings + KafkaOptions.settings + KafkaConsumerOptions.settings + [rulesSetting, httpPortSetting, statsUpdateSetting]

    func run() async throws {
        let resolver = try common.resolver(
            flags: kafka.flags.merging(kafkaConsumer.flags) { $1 }.merging([
                "rules": rules, "http-port": httpPort.map(String.init), "stats-update-interval": statsUpdateInterval,
            ]) { $1 },
            known: Self.settings
        )
        let logger = try common.logger(resolver, label: "fluxgate.windowing")
        var configuration = WindowingServiceConfiguration()
        configuration.topics = try common.topics(resolver)
        configuration.telemetry = try Self.telemetry(resolver)
        configuration.statsUpdateInterval = try resolver.required(
            Self.statsUpdateSetting, expected: "a duration such as 500ms, 5s or 1m, or 'off'"
        ) { text -> Duration?? in
            text == "off" ? .some(nil) : ValueParsers.duration(text).map { .some($0) }
        }
        let httpPort = try resolver.required(Self.httpPortSetting, expected: "a port number 0-65535", ValueParsers.port)
        let servers = try kafka.bootstrapServers(resolver)
        let producerConfiguration = WindowingService.producerConfiguration(bootstrapServers: servers, clientID: "fluxgate-windowing")

        let runtime = StageRuntime(logger: logger)
        runtime.readiness.register("partitions-assigned")
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var consumerConfiguration = WindowingService.consumerConfiguration(bootstrapServers: servers, topics: configuration.topics)
        consumerConfiguration.additionalProperties.merge(try kafkaConsumer.consumerProperties(resolver)) { $1 }
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let readiness = runtime.readiness
        let windowing = WindowingService(
            configuration: configuration,
            consumer: consumer,
            producer: producer,
            bootstrapServers: servers,
            logger: logger,
            onReady: { readiness.ready("partitions-assigned") }
        )
        logger.info(
            "windowing starting",
            metadata: [
                "kafka": "\(servers.joined(separator: ","))", "readings": "\(configuration.topics.readings)",
                "windows": "\(configuration.telemetry.windowing.windows.count)",
                "rules": "\(configuration.telemetry.rules.map(\.name))",
            ]
        )
        // The windowing service runs the consumer; it stops before the producer flushes.
        try await runtime.run([producer, windowing], httpPort: httpPort)
    }

    /// The rules file's configuration, or the built-in standard one.
    static func telemetry(_ resolver: ConfigurationResolver) throws -> TelemetryConfiguration {
        guard let (path, source) = resolver.raw(rulesSetting) else { return .standard }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(
                .unreadableFile, "cannot read the rules file '\(path)' (from \(source)): \(error.localizedDescription); check the path.")
        }
        do {
            return try TelemetryConfiguration.parse(yaml: text)
        } catch {
            throw ConfigurationError(.invalidValue, "rules file '\(path)': \(error)")
        }
    }
}
