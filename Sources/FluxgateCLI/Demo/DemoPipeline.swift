import Hub
import Ingress
import Kafka
import Logging
import MQTT
import Observability
import ServiceLifecycle
import Simulator
import Telemetry

/// The demo's stages against its own mosquitto and dev Kafka cluster, as services in start order:
/// ingress (producer, then the service that runs its MQTT client), windowing (producer, then the
/// service that runs its consumer; DemoPipeline+Windowing.swift), hub, then the
/// simulator's MQTT client and the simulator.
struct DemoPipeline {
    let mqttPort: Int
    let kafkaBrokers: [String]
    let topics: FluxgateTopics
    let hub: HubConfiguration
    let simulator: SimulatorConfiguration
    let runtime: StageRuntime
    let logger: Logger

    func services() throws -> [any Service] {
        try ingress() + windowing() + Hub(configuration: hub, observability: runtime.routes, logger: logger).services
            + simulation()
    }

    /// MQTT -> Kafka, acknowledged once Kafka has the readings (as `fluxgate ingress`).
    func ingress() throws -> [any Service] {
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: kafkaBrokers)
        producerConfiguration.clientID = "fluxgate-demo-ingress"
        var mqttConfiguration = MQTTConfiguration(host: "127.0.0.1", port: mqttPort, clientID: "fluxgate-demo-ingress")
        mqttConfiguration.acknowledgement = .deferred
        mqttConfiguration.cleanStart = false
        mqttConfiguration.sessionExpiry = .seconds(3600)
        var configuration = IngressConfiguration()
        configuration.topics = topics
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        let readiness = runtime.readiness
        readiness.register("mqtt-subscribed")
        let service = IngressService(
            configuration: configuration, mqtt: client, producer: producer, logger: logger,
            onReady: { readiness.ready("mqtt-subscribed") }
        )
        return [producer, service]
    }

    /// The simulator over its own MQTT connection; marks the fleet offline when it stops.
    func simulation() throws -> [any Service] {
        var mqttConfiguration = MQTTConfiguration(host: "127.0.0.1", port: mqttPort, clientID: "fluxgate-demo-simulator")
        mqttConfiguration.acknowledgement = .automatic
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        let sink = MQTTPublicationSink(client: client)
        let service: SimulatorService
        do throws(ProfileError) {
            service = try SimulatorService(configuration: simulator, sink: sink, logger: logger)
        } catch {
            throw ConfigurationError(.invalidValue, error.description)
        }
        let deviceIDs = service.pacedFleet.devices.map(\.id)
        return [client, SimulationRun(simulator: service, sink: sink, deviceIDs: deviceIDs, logger: logger)]
    }
}
