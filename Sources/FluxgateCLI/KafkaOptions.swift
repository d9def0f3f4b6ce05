import ArgumentParser
import Kafka

/// Kafka connection options shared by every stage.
struct KafkaOptions: ParsableArguments {
    @Option(help: "Kafka bootstrap servers, host:port,... [env: FLUXGATE_KAFKA_BROKERS]")
    var kafkaBrokers: String?

    static let brokersSetting = Setting("kafka-brokers", default: nil, help: "Kafka bootstrap servers, host:port,...")
    static let settings = [brokersSetting]

    var flags: [String: String?] { ["kafka-brokers": kafkaBrokers] }

    func bootstrapServers(_ resolver: ConfigurationResolver) throws -> [String] {
        try resolver.required(Self.brokersSetting, expected: "host:port[,host:port...]", ValueParsers.hostPortList)
            .map(\.description)
    }

    /// An idempotent, acks=all producer for these brokers.
    func producerConfiguration(_ resolver: ConfigurationResolver, clientID: String) throws -> KafkaProducerConfiguration {
        var configuration = KafkaProducerConfiguration(bootstrapServers: try bootstrapServers(resolver))
        configuration.clientID = clientID
        return configuration
    }
}
