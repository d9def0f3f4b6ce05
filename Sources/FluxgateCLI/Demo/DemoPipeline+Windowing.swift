import Kafka
import Observability
import ServiceLifecycle
import Telemetry
import Windowing

extension DemoPipeline {
    /// The windowing stage with the built-in standard windows and alert rules (as
    /// `fluxgate windowing` without --rules): a producer, then the service that runs its consumer
    /// (with the dev cluster's consumer properties: alerts within a second of the crossing, as
    /// DemoDashboardBrowserTests measures).
    func windowing() throws -> [any Service] {
        var configuration = WindowingServiceConfiguration()
        configuration.topics = topics
        configuration.telemetry = .standard
        let producer = try KafkaProducer(
            configuration: WindowingService.producerConfiguration(bootstrapServers: kafkaBrokers, clientID: "fluxgate-demo-windowing"),
            logger: logger)
        var consumerConfiguration = WindowingService.consumerConfiguration(bootstrapServers: kafkaBrokers, topics: topics)
        consumerConfiguration.additionalProperties.merge(DevKafkaCluster.consumerProperties) { $1 }
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let readiness = runtime.readiness
        readiness.register("partitions-assigned")
        let service = WindowingService(
            configuration: configuration, consumer: consumer, producer: producer, bootstrapServers: kafkaBrokers,
            logger: logger, onReady: { readiness.ready("partitions-assigned") }
        )
        return [producer, service]
    }
}
