import ArgumentParser
import Foundation
import Hub
import Ingress
import Kafka
import Logging
import MQTT
import ServiceLifecycle
import Simulator
import Telemetry

/// `fluxgate demo`: the whole pipeline in one process, with its own brokers and a simulated fleet.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole pipeline in one process: own mosquitto, dev Kafka, every stage, a simulated fleet.",
        discussion: """
            Starts mosquitto (the Debian package; bash scripts/bootstrap.sh
            installs it) on a free loopback port with a generated
            configuration in a temporary folder, the development Kafka
            cluster in-process with Fluxgate's topics, the ingress, the
            windowing stage (standard windows and alert rules), the hub on
            --http-port and the simulator publishing the demo fleet
            (devices/demo.yaml, built in). Prints the dashboard URL on
            stdout once every stage is ready. Ctrl-C or SIGTERM stops
            everything (mosquitto included) within 10 s. Everything listens
            on 127.0.0.1 only and is kept in memory: nothing survives the
            demo.

            Exit status 69 when mosquitto is not installed.

            Examples:
              fluxgate demo
              fluxgate demo --http-port 9090 --rate 200
              bash scripts/demo.sh          # installs, builds and runs this from a fresh clone
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var simulation: SimulationOptions

    @Option(help: "Port of the dashboards, Socket.IO, /api and /metrics. [env: FLUXGATE_HTTP_PORT] [default: 8080]")
    var httpPort: Int?

    @Option(help: "Folder with the dashboards. [env: FLUXGATE_DASHBOARDS_DIR] [default: dashboards]")
    var dashboardsDir: String?

    @Option(help: "Folder with socket.io/socket.io.min.js (scripts/bootstrap.sh). [env: FLUXGATE_VENDOR_DIR] [default: vendor]")
    var vendorDir: String?

    static let settings = CommonOptions.settings + SimulationOptions.settings
        + [HubCommand.httpPortSetting, HubCommand.dashboardsSetting, HubCommand.vendorSetting]

    /// Builds the stages, runs them until a signal or a failure, and releases them.
    ///
    /// Start order = pipeline order (ingress, windowing, hub, simulator); shutdown runs in
    /// reverse, so the simulator stops first and the ingress drains last. The URL goes to stdout
    /// once every stage is ready.
    static func runStages(_ pipeline: DemoPipeline) async throws {
        let url = "http://127.0.0.1:\(pipeline.hub.httpPort)/"
        let announcer = ReadyAnnouncer(readiness: pipeline.runtime.readiness, line: url, logger: pipeline.logger)
        try await pipeline.runtime.run(try pipeline.services() + [announcer], httpPort: nil)
    }

    /// Partitions of each topic in the demo's dev cluster.
    static let partitions = 3

    func run() async throws {
        let resolver = try common.resolver(
            flags: simulation.flags.merging([
                "http-port": httpPort.map(String.init), "dashboards-dir": dashboardsDir, "vendor-dir": vendorDir,
            ]) { $1 },
            known: Self.settings
        )
        let logger = try common.logger(resolver, label: "fluxgate.demo")
        let topics = try common.topics(resolver)
        var simulatorConfiguration = SimulatorConfiguration(fleet: try simulation.profile(resolver))
        simulatorConfiguration.seed = try simulation.seed(resolver)
        simulatorConfiguration.targetRate = try simulation.targetRate(resolver)
        var hubConfiguration = HubConfiguration()
        hubConfiguration.topics = topics
        hubConfiguration.host = "127.0.0.1"
        hubConfiguration.instanceID = "demo"
        hubConfiguration.httpPort = try resolver.required(HubCommand.httpPortSetting, expected: "a port number 0-65535", ValueParsers.port)
        hubConfiguration.dashboardsDirectory = try HubCommand.folder(HubCommand.dashboardsSetting, resolver)
        hubConfiguration.vendorDirectory = try HubCommand.folder(HubCommand.vendorSetting, resolver)

        let mosquitto: EmbeddedMosquitto
        do {
            mosquitto = try await EmbeddedMosquitto.start(logger: logger)
        } catch let error as DemoError {
            FileHandle.standardError.write(Data("fluxgate demo: \(error.message)\n".utf8))
            throw ExitCode(error.exitCode)
        }
        let cluster: DevKafkaCluster
        do {
            cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
            for topic in topics.all {
                try cluster.createTopic(topic, partitions: Self.partitions)
            }
            hubConfiguration.kafkaBrokers = cluster.bootstrapServers.split(separator: ",").map(String.init)
            hubConfiguration.kafkaConsumerProperties = DevKafkaCluster.consumerProperties
        } catch {
            await mosquitto.stop()
            throw error
        }
        logger.info(
            "demo starting",
            metadata: [
                "url": "http://127.0.0.1:\(hubConfiguration.httpPort)/", "mqtt": "127.0.0.1:\(mosquitto.port)",
                "mosquitto-pid": "\(mosquitto.pid)", "kafka": "\(cluster.bootstrapServers)",
                "devices": "\(simulatorConfiguration.fleet.deviceCount)",
            ]
        )
        // The brokers outlive the stages: they stop once every stage (and its Kafka and MQTT
        // handles) is gone, so no client is left reconnecting to a stopped broker.
        let outcome: Result<Void, any Error>
        do {
            try await Self.runStages(
                DemoPipeline(
                    mqttPort: mosquitto.port, kafkaBrokers: hubConfiguration.kafkaBrokers, topics: topics,
                    hub: hubConfiguration, simulator: simulatorConfiguration, runtime: StageRuntime(logger: logger),
                    logger: logger))
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        cluster.shutdown()
        await mosquitto.stop()
        try outcome.get()
        logger.info("demo stopped")
    }
}
