import Kafka
import Observability
import ServiceLifecycle
import Telemetry
import Windowing

extension DemoPipeline {
    /// The windowing stage with the built-in standard windows and alert rules (as
    /// `fluxgate windowing` without --rules): a producer, then the service that runs its consumer
    /// (which fetches every 10 ms from the dev cluster, see below).
    func windowing() throws -> [any Service] {
        var configuration = WindowingServiceConfiguration()
        configuration.topics = topics
        configuration.telemetry = .standard
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: kafkaBrokers)
        producerConfiguration.clientID = "fluxgate-demo-windowing"
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var consumerConfiguration = WindowingService.consumerConfiguration(bootstrapServers: kafkaBrokers, topics: topics)
        // The dev cluster (librdkafka's mock broker) answers an empty fetch only after the whole
        // fetch.wait.max.ms (default 500 ms), even when records arrive meanwhile (measured with
        // kcat: delay spread over 0..wait). With the default, each reading waited up to 0.5 s
        // here before its alert; fetching every 10 ms keeps alerts on the dashboards well within
        // a second of the crossing (DemoDashboardBrowserTests measures it).
        consumerConfiguration.additionalProperties["fetch.wait.max.ms"] = "10"
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
