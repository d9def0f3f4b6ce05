import ArgumentParser
import Foundation
import Ingress
import Kafka
import Logging
import MQTT
import Observability

/// `fluxgate ingress`: MQTT in, Kafka out, lossless.
struct IngressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingress",
        abstract: "Land every MQTT reading in Kafka: validated, normalized, acknowledged only once Kafka has it.",
        discussion: """
            Subscribes at QoS 1 with a persistent session to devices/+/telemetry and
            devices/+/status (a shared subscription, so several instances split the devices),
            writes readings to <prefix>readings, status changes to <prefix>status and rejected
            input to <prefix>deadletter. Give every instance a stable, unique --mqtt-client-id:
            a broker keeps an instance's unacknowledged share for it until it comes back.

            Examples:
              fluxgate ingress --kafka-brokers kafka-1:9092,kafka-2:9092 --mqtt-url mqtt://broker:1883 \\
                  --mqtt-client-id ingress-1
              FLUXGATE_KAFKA_BROKERS=localhost:9092 fluxgate ingress --config ingress.yaml
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var mqtt: MQTTOptions

    @Option(help: "Port of /healthz, /readyz and /metrics. [env: FLUXGATE_HTTP_PORT] [default: 8081]")
    var httpPort: Int?

    @Option(help: "Shared-subscription group; 'none' to receive every message unshared. [env: FLUXGATE_SHARE_GROUP] [default: fluxgate-ingress]")
    var shareGroup: String?

    @Option(help: "How long the Kafka producer waits to fill a request (linger.ms). [env: FLUXGATE_KAFKA_LINGER] [default: 5ms]")
    var kafkaLinger: String?

    static let httpPortSetting = Setting("http-port", default: "8081", help: "Port of the operational endpoints.")
    static let lingerSetting = Setting(
        "kafka-linger", default: "5ms",
        help: "How long the Kafka producer waits to fill a produce request (linger.ms).")
    static let shareGroupSetting = Setting("share-group", default: "fluxgate-ingress", help: "Shared-subscription group.")
    static let settings = CommonOptions.settings + KafkaOptions.settings + MQTTOptions.settings(defaultClientID: MQTTOptions.defaultClientID("ingress"))
        + [httpPortSetting, shareGroupSetting, lingerSetting]

    func run() async throws {
        let resolver = try common.resolver(
            flags: kafka.flags.merging(mqtt.flags) { $1 }.merging([
                "http-port": httpPort.map(String.init), "share-group": shareGroup, "kafka-linger": kafkaLinger,
            ]) { $1 },
            known: Self.settings
        )
        let logger = try common.logger(resolver, label: "fluxgate.ingress")
        var configuration = IngressConfiguration()
        configuration.topics = try common.topics(resolver)
        let group = try resolver.required(Self.shareGroupSetting, expected: "a name of letters, digits, '_' or '-', or 'none'") {
            $0 == "none" ? "" : (MQTTOptions.isTopicLevelName($0) ? $0 : nil)
        }
        configuration.sharedSubscriptionGroup = group.isEmpty ? nil : group
        let httpPort = try resolver.required(Self.httpPortSetting, expected: "a port number 0-65535", ValueParsers.port)
        var producerConfiguration = try kafka.producerConfiguration(resolver, clientID: "fluxgate-ingress")
        producerConfiguration.linger = try resolver.required(Self.lingerSetting, expected: "a duration from 1ms to 1s, such as 5ms") {
            ValueParsers.duration($0).flatMap { $0 <= .seconds(1) ? $0 : nil }
        }
        var mqttConfiguration = try mqtt.configuration(resolver, defaultClientID: MQTTOptions.defaultClientID("ingress"))
        mqttConfiguration.acknowledgement = .deferred
        mqttConfiguration.cleanStart = false

        let runtime = StageRuntime(logger: logger)
        runtime.readiness.register("mqtt-subscribed")
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        let readiness = runtime.readiness
        let ingress = IngressService(
            configuration: configuration,
            mqtt: client,
            producer: producer,
            logger: logger,
            onReady: { readiness.ready("mqtt-subscribed") }
        )
        logger.info(
            "ingress starting",
            metadata: [
                "mqtt": "\(mqttConfiguration.host):\(mqttConfiguration.port)", "client-id": "\(mqttConfiguration.clientID)",
                "kafka": "\(producerConfiguration.bootstrapServers.joined(separator: ","))",
                "filters": "\(configuration.subscriptionFilters)",
            ]
        )
        // The ingress runs the MQTT client; it stops (draining) before the producer flushes.
        try await runtime.run([producer, ingress], httpPort: httpPort)
    }
}
