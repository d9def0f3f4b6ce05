import ArgumentParser
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import Simulator
import Synchronization
import Telemetry

/// `fluxgate simulate`: publish a simulated fleet over MQTT.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Publish a simulated device fleet over MQTT in real time.",
        discussion: """
            Publishes each device's readings on devices/{id}/telemetry (QoS
            from the profile, 1 by default) and its retained status
            (online/offline) on devices/{id}/status, in real time, over one
            MQTT connection with a bounded number of publications in flight.
            The same --seed gives the same values, events and order. A live
            progress line goes to stderr. --ground-truth writes what the run
            injects (spikes, stuck sensors, offline periods, late readings)
            as JSON lines before publishing starts; it needs --duration or
            --count. When the run ends (limit reached, SIGINT or SIGTERM)
            every device is marked offline. Exit status 1 when a publication
            failed.

            Examples:
              fluxgate simulate --mqtt-url mqtt://127.0.0.1:1883
              fluxgate simulate --fleet devices/test.yaml --rate 500 --duration 1m \\
                  --seed 7 --ground-truth truth.jsonl
              FLUXGATE_MQTT_URL=mqtt://broker:1883 fluxgate simulate --count 10000
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var mqtt: MQTTOptions
    @OptionGroup var simulation: SimulationOptions

    @Option(help: "Stop after this much time, e.g. 30s or 5m. [env: FLUXGATE_DURATION] [default: no limit]")
    var duration: String?

    @Option(help: "Stop after this many readings. [env: FLUXGATE_COUNT] [default: no limit]")
    var count: Int?

    @Option(help: "Write the run's ground truth as JSON lines to this file. [env: FLUXGATE_GROUND_TRUTH]")
    var groundTruth: String?

    @Option(help: "Most publications awaiting the broker's acknowledgement at once. [env: FLUXGATE_MAX_IN_FLIGHT] [default: 256]")
    var maxInFlight: Int?

    static let durationSetting = Setting("duration", default: nil, help: "Run time limit.")
    static let countSetting = Setting("count", default: nil, help: "Reading count limit.")
    static let groundTruthSetting = Setting("ground-truth", default: nil, help: "Ground truth output file (JSON lines).")
    static let maxInFlightSetting = Setting("max-in-flight", default: "256", help: "Publications in flight.")
    static let settings = CommonOptions.settings + MQTTOptions.settings(defaultClientID: MQTTOptions.defaultClientID("simulate"))
        + SimulationOptions.settings + [durationSetting, countSetting, groundTruthSetting, maxInFlightSetting]

    func run() async throws {
        let resolver = try common.resolver(
            flags: mqtt.flags.merging(simulation.flags) { $1 }.merging([
                "duration": duration, "count": count.map(String.init), "ground-truth": groundTruth,
                "max-in-flight": maxInFlight.map(String.init),
            ]) { $1 },
            known: Self.settings
        )
        let logger = try common.logger(resolver, label: "fluxgate.simulate")
        var configuration = SimulatorConfiguration(fleet: try simulation.profile(resolver))
        configuration.seed = try simulation.seed(resolver)
        configuration.targetRate = try simulation.targetRate(resolver)
        configuration.duration = try resolver.value(Self.durationSetting, expected: "a duration > 0 such as 30s or 5m") {
            ValueParsers.duration($0).flatMap { $0 > .zero ? $0 : nil }
        }
        configuration.count = try resolver.value(Self.countSetting, expected: "a whole number > 0") {
            Int($0).flatMap { $0 > 0 ? $0 : nil }
        }
        let inFlight = try resolver.required(Self.maxInFlightSetting, expected: "a number from 1 to 65535") {
            Int($0).flatMap { (1...65535).contains($0) ? $0 : nil }
        }
        let truthPath = resolver.raw(Self.groundTruthSetting)?.value
        if truthPath != nil, configuration.duration == nil, configuration.count == nil {
            throw ConfigurationError(.invalidValue, "ground-truth needs a bounded run: add --duration or --count.")
        }
        var mqttConfiguration = try mqtt.configuration(resolver, defaultClientID: MQTTOptions.defaultClientID("simulate"))
        mqttConfiguration.acknowledgement = .automatic

        let start = WallClock.nowMilliseconds()
        configuration.startMilliseconds = start
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        let sink = MQTTPublicationSink(client: client, maxInFlight: inFlight)
        let last = Mutex(SimulatorProgress())
        let simulator: SimulatorService
        do throws(ProfileError) {
            simulator = try SimulatorService(configuration: configuration, sink: sink, logger: logger) { progress in
                last.withLock { $0 = progress }
                FileHandle.standardError.write(Data(progress.progressLine().utf8))
            }
        } catch {
            throw ConfigurationError(.invalidValue, error.description)
        }
        if let truthPath, let truth = simulator.plannedGroundTruth(startMilliseconds: start) {
            do {
                try truth.jsonLines().write(toFile: truthPath, atomically: true, encoding: .utf8)
            } catch {
                throw ConfigurationError(.unreadableFile, "cannot write the ground truth to \(truthPath): \(error.localizedDescription)")
            }
        }
        logger.info(
            "simulate starting",
            metadata: [
                "mqtt": "\(mqttConfiguration.host):\(mqttConfiguration.port)", "client-id": "\(mqttConfiguration.clientID)",
                "devices": "\(configuration.fleet.deviceCount)",
            ]
        )
        let run = SimulationRun(simulator: simulator, sink: sink, deviceIDs: simulator.pacedFleet.devices.map(\.id), logger: logger)
        try await StageRuntime(logger: logger).run([client, run], httpPort: nil)
        FileHandle.standardError.write(Data("\n".utf8))
        let errors = last.withLock { $0.errors }
        if errors > 0 {
            logger.error("some publications failed", metadata: ["failed-batches": "\(errors)"])
            throw ExitCode(1)
        }
    }
}

/// Runs a simulator, then marks every device offline (the wills a real fleet's connections
/// would leave). Runs after the MQTT client in a `ServiceGroup`, so it stops before the client.
struct SimulationRun: Service {
    let simulator: SimulatorService
    let sink: MQTTPublicationSink
    let deviceIDs: [String]
    let logger: Logger

    func run() async throws {
        try await simulator.run()
        let sink = self.sink
        let deviceIDs = self.deviceIDs
        // Bounded: a broker that is gone must not hold up the shutdown.
        let marked = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await sink.publishOffline(deviceIDs: deviceIDs)) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !marked { logger.warning("could not mark the devices offline within 3 s") }
    }
}
