import ArgumentParser
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Telemetry
import UnixSignals

/// `fluxgate dev-kafka`: the embedded development Kafka cluster on its own.
struct DevKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-kafka",
        abstract: "Run the development Kafka cluster (librdkafka's mock cluster) on loopback.",
        discussion: """
            Prints the bootstrap list (host:port,...) as the first line on stdout, creates
            Fluxgate's topics, and runs until SIGTERM or SIGINT. Other processes reach it over TCP:

              fluxgate dev-kafka > /tmp/bootstrap &
              fluxgate ingress --kafka-brokers "$(head -1 /tmp/bootstrap)" ...

            The dev cluster is for development and tests: it keeps everything in memory, at most
            5 MiB per partition, does not implement transactions (read_committed is not honoured)
            and takes about 3 s for a consumer group join.
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Number of brokers (1-16). [env: FLUXGATE_BROKER_COUNT] [default: 3]")
    var brokerCount: Int?

    @Option(help: "Partitions of each Fluxgate topic (1-256); use few at high rates (docs/kafka.md). [env: FLUXGATE_PARTITIONS] [default: 6]")
    var partitions: Int?

    static let brokerCountSetting = Setting("broker-count", default: "3", help: "Dev cluster brokers, 1-16.")
    static let partitionsSetting = Setting("partitions", default: "6", help: "Partitions of each topic, 1-256.")

    func run() async throws {
        let resolver = try common.resolver(
            flags: ["broker-count": brokerCount.map(String.init), "partitions": partitions.map(String.init)],
            known: CommonOptions.settings + [Self.brokerCountSetting, Self.partitionsSetting]
        )
        let brokers = try resolver.required(Self.brokerCountSetting, expected: "a number from 1 to 16") {
            Int($0).flatMap { (1...16).contains($0) ? $0 : nil }
        }
        let partitions = try resolver.required(Self.partitionsSetting, expected: "a number from 1 to 256") {
            Int($0).flatMap { (1...256).contains($0) ? $0 : nil }
        }
        let topics = try common.topics(resolver)
        let logger = try common.logger(resolver, label: "fluxgate.dev-kafka")

        let cluster = try DevKafkaCluster(brokerCount: brokers, logger: logger)
        for topic in topics.all {
            try cluster.createTopic(topic, partitions: partitions)
        }
        // Unbuffered, so a reader of a pipe sees the line at once.
        FileHandle.standardOutput.write(Data((cluster.bootstrapServers + "\n").utf8))
        logger.info(
            "dev Kafka cluster running",
            metadata: ["bootstrap": "\(cluster.bootstrapServers)", "brokers": "\(brokers)", "partitions": "\(partitions)"]
        )

        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: DevKafkaService(cluster: cluster))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }
}

/// Keeps the dev cluster up until graceful shutdown, then destroys it.
struct DevKafkaService: Service {
    let cluster: DevKafkaCluster

    func run() async throws {
        defer { cluster.shutdown() }
        try? await gracefulShutdown()
    }
}
