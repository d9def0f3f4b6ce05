// `LoadHarness mqtt`: QoS 1 receive rate of the MQTT module with deferred acknowledgement against
// `mosquitto_sub -q 1 -C N`, on the same mosquitto, in the same run.
//
// Both subscribers get a persistent session first; then N QoS 1 messages are published once
// (each session queues its copy); then each subscriber reconnects and the time to drain its queue
// is measured (connect to the N-th message). Fluxgate acknowledges every batch as soon as it has
// it (the application's work is not measured), so the figure is the client's own cost.
import Foundation
import Logging
import MQTT

enum MQTTBenchmark {
    struct Options {
        var messages = 200_000
        var size = 64
        var rounds = 2
        var versions: [MQTTConfiguration.ProtocolVersion] = [.v5, .v311]

        init(_ arguments: [String]) {
            var iterator = arguments.makeIterator()
            while let flag = iterator.next() {
                let value = iterator.next() ?? ""
                switch flag {
                case "--messages": messages = Int(value) ?? messages
                case "--size": size = Int(value) ?? size
                case "--rounds": rounds = Int(value) ?? rounds
                case "--protocol": versions = value == "5" ? [.v5] : value == "3" ? [.v311] : versions
                default:
                    FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
                    exit(2)
                }
            }
        }
    }

    /// Runs the benchmark and exits the process.
    static func run(arguments: [String]) async -> Never {
        let options = Options(arguments)
        let broker: MQTTBenchmarkBroker
        do {
            broker = try MQTTBenchmarkBroker()
        } catch {
            FileHandle.standardError.write(Data("mqtt benchmark failed: \(error)\n".utf8))
            exit(1)
        }
        // `exit` skips `defer`: the broker is stopped explicitly on both paths.
        do {
            print("MQTT QoS 1 drain of \(options.messages) queued messages, \(options.size)-byte payloads, mosquitto 2.0.11 on 127.0.0.1:\(broker.port)")
            print("wall: msg/s from connect to the last message; cpu: the subscriber process's user+system time per message")
            print("protocol  round  fluxgate msg/s  mosquitto_sub msg/s  ratio   fluxgate cpu µs/msg  mosquitto_sub cpu µs/msg  ratio")
            var ratios: [Double] = []
            var cpuRatios: [Double] = []
            for version in options.versions {
                for round in 1...options.rounds {
                    let result = try await measure(options, version: version, port: broker.port, round: round)
                    ratios.append(result.rate / result.peerRate)
                    cpuRatios.append(result.peerCPU / result.cpu)
                    let name = (version == .v5 ? "5" : "3.1.1").padding(toLength: 8, withPad: " ", startingAt: 0)
                    print(
                        name
                            + String(
                                format: "  %5d  %14.0f  %19.0f  %5.2fx  %19.2f  %24.2f  %5.2fx", round, result.rate, result.peerRate,
                                result.rate / result.peerRate, result.cpu, result.peerCPU, result.peerCPU / result.cpu
                            )
                    )
                }
            }
            func geometricMean(_ values: [Double]) -> Double { exp(values.map { log($0) }.reduce(0, +) / Double(values.count)) }
            print(String(format: "geometric mean, fluxgate / mosquitto_sub: wall rate %.2fx (goal >= 1.5x), cpu efficiency %.2fx", geometricMean(ratios), geometricMean(cpuRatios)))
            broker.stop()
            exit(0)
        } catch {
            broker.stop()
            FileHandle.standardError.write(Data("mqtt benchmark failed: \(error)\n".utf8))
            exit(1)
        }
    }

    struct Result {
        /// Messages per second, wall clock.
        var rate: Double
        var peerRate: Double
        /// CPU microseconds (user + system) per message.
        var cpu: Double
        var peerCPU: Double
    }

    /// CPU seconds (user + system) of this process or of its reaped children.
    static func cpuSeconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(who), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// Queues `messages` for both subscribers, then drains each.
    static func measure(_ options: Options, version: MQTTConfiguration.ProtocolVersion, port: Int, round: Int) async throws
        -> Result
    {
        let topic = "bench/\(round)/\(version == .v5 ? "v5" : "v3")"
        let fluxgateID = "bench-fluxgate-\(topic)"
        let peerID = "bench-mosquitto-sub-\(topic)"
        let v5 = version == .v5
        var logger = Logger(label: "mqtt-bench")
        logger.logLevel = .warning

        // 1. Persistent sessions with the subscription, then offline.
        var subscriber = MQTTConfiguration(host: "127.0.0.1", port: port, clientID: fluxgateID)
        subscriber.protocolVersion = version
        subscriber.cleanStart = false
        if v5 { subscriber.sessionExpiry = .seconds(3600) }
        subscriber.subscriptions = [.init("\(topic)/#", qos: .atLeastOnce)]
        try await withClient(subscriber, logger: logger) { client in
            try await client.subscribe("\(topic)/#", qos: .atLeastOnce)  // SUBACK: the session has it
        }
        try runPeer(["-E"], id: peerID, topic: topic, v5: v5, port: port)

        // 2. Publish the messages once; each session queues a copy.
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: options.size)
        var publisher = MQTTConfiguration(host: "127.0.0.1", port: port)
        publisher.protocolVersion = version
        try await withClient(publisher, logger: logger) { client in
            let workers = 64
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask {
                        var index = worker
                        while index < options.messages {
                            try await client.publish(topic: "\(topic)/d\(index % 100)", payload: payload, qos: .atLeastOnce)
                            index += workers
                        }
                    }
                }
                try await group.waitForAll()
            }
        }

        // 3. Drain: fluxgate, deferred acknowledgement (each batch acknowledged when received).
        let clock = ContinuousClock()
        let cpuStart = cpuSeconds(RUSAGE_SELF.rawValue)
        let start = clock.now
        var received = 0
        var batches = 0
        try await withClient(subscriber, logger: logger) { client in
            for await batch in client.messages {
                received += batch.count
                batches += 1
                batch.acknowledge()
                if received >= options.messages { break }
            }
        }
        let fluxgateSeconds = (clock.now - start).mqttSeconds
        let fluxgateCPU = cpuSeconds(RUSAGE_SELF.rawValue) - cpuStart
        if ProcessInfo.processInfo.environment["MQTT_BENCH_VERBOSE"] != nil {
            print("  fluxgate: \(batches) batches, \(received / max(batches, 1)) messages per batch")
        }
        guard received >= options.messages else { throw MQTTBenchmarkError("fluxgate received \(received) of \(options.messages)") }

        // 4. Drain: mosquitto_sub -q 1 -C N, same broker, same queue length.
        let peerCPUStart = cpuSeconds(RUSAGE_CHILDREN.rawValue)
        let peerStart = clock.now
        try runPeer(["-C", "\(options.messages)"], id: peerID, topic: topic, v5: v5, port: port)
        let peerSeconds = (clock.now - peerStart).mqttSeconds
        let peerCPU = cpuSeconds(RUSAGE_CHILDREN.rawValue) - peerCPUStart
        let count = Double(options.messages)
        return Result(rate: count / fluxgateSeconds, peerRate: count / peerSeconds, cpu: fluxgateCPU / count * 1e6, peerCPU: peerCPU / count * 1e6)
    }

    /// Runs `client.run()` for the duration of `body`, then shuts it down gracefully.
    static func withClient(_ configuration: MQTTConfiguration, logger: Logger, _ body: (MQTTClient) async throws -> Void) async throws
    {
        let client = try MQTTClient(configuration: configuration, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            do {
                try await body(client)
            } catch {
                group.cancelAll()
                throw error
            }
            client.shutdown()
            try await group.waitForAll()
        }
    }

    /// `mosquitto_sub -c -q 1` with the given extra arguments; output discarded.
    static func runPeer(_ extra: [String], id: String, topic: String, v5: Bool, port: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/mosquitto_sub")
        var arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-i", id, "-c", "-q", "1", "-t", "\(topic)/#"]
        arguments += v5 ? ["-V", "5", "-x", "3600"] : ["-V", "311"]
        process.arguments = arguments + extra
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw MQTTBenchmarkError("mosquitto_sub \(process.arguments?.joined(separator: " ") ?? "") exited with \(process.terminationStatus)")
        }
    }
}

extension Duration {
    fileprivate var mqttSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
