import FluxgateTesting
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import Logging
import MQTT
import NIOConcurrencyHelpers
import ServiceLifecycle
import Telemetry
import Testing

@testable import Ingress

/// The ingress against a real mosquitto and the dev Kafka cluster over TCP.
@Suite(.serialized) struct IngressPipelineTests {
    static let partitions = 3

    let logger: Logger = {
        var logger = Logger(label: "ingress-test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["FLUXGATE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }()

    /// Everything one test needs: broker, cluster, topics.
    struct Environment {
        let broker: MosquittoBroker
        let cluster: DevKafkaCluster
        let topics = FluxgateTopics(prefix: "it.")
    }

    func makeEnvironment() async throws -> Environment {
        var brokerConfiguration = MosquittoBroker.Configuration()
        brokerConfiguration.maxQueuedMessages = 100_000
        brokerConfiguration.maxInflightMessages = 0
        let broker = try await MosquittoBroker.start(brokerConfiguration)
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        let environment = Environment(broker: broker, cluster: cluster)
        for topic in environment.topics.all {
            try cluster.createTopic(topic, partitions: Self.partitions)
        }
        return environment
    }

    func makeIngress(
        _ environment: Environment,
        clientID: String,
        maxDeadLetterBytes: Int = 512 * 1024
    ) throws -> (KafkaProducer, MQTTClient, IngressService) {
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: environment.cluster.bootstrapServerList)
        producerConfiguration.additionalProperties["reconnect.backoff.max.ms"] = "500"
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var mqttConfiguration = MQTTConfiguration(host: environment.broker.host, port: environment.broker.port, clientID: clientID)
        mqttConfiguration.cleanStart = false
        mqttConfiguration.sessionExpiry = .seconds(600)
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        var configuration = IngressConfiguration()
        configuration.topics = environment.topics
        configuration.maxDeadLetterBytes = maxDeadLetterBytes
        let ingress = IngressService(configuration: configuration, mqtt: client, producer: producer, logger: logger)
        return (producer, client, ingress)
    }

    func makePublisher(_ environment: Environment) throws -> MQTTClient {
        var configuration = MQTTConfiguration(host: environment.broker.host, port: environment.broker.port)
        configuration.acknowledgement = .automatic
        return try MQTTClient(configuration: configuration, logger: logger)
    }

    /// Publishes `messages` at QoS 1 from 8 concurrent lanes, each awaiting its PUBACKs.
    func publish(_ publisher: MQTTClient, _ messages: [(topic: String, payload: [UInt8])]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let lanes = 8
            for lane in 0..<lanes {
                group.addTask {
                    for index in stride(from: lane, to: messages.count, by: lanes) {
                        try await publisher.publish(topic: messages[index].topic, payload: messages[index].payload, qos: .atLeastOnce)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Collects every record of `topic` (all partitions, from the beginning) in the background.
    func collector(_ environment: Environment, topic: String) throws -> Collected {
        var assignment: [KafkaTopicPartition: KafkaOffset] = [:]
        for partition in 0..<Self.partitions {
            assignment[KafkaTopicPartition(topic: topic, partition: partition)] = .beginning
        }
        let configuration = KafkaConsumerConfiguration(
            bootstrapServers: environment.cluster.bootstrapServerList,
            consumptionStrategy: .partitions(assignment)
        )
        return Collected(try KafkaConsumer(configuration: configuration, logger: logger))
    }

    @Test func validAndMalformedInputAllLandWhereTheyBelong() async throws {
        let environment = try await makeEnvironment()
        defer { environment.cluster.shutdown() }
        // Dead letters are cut to 4 KiB: ~830 oversized payloads in full would pass the dev
        // cluster's 5 MiB per partition, which then drops the oldest records.
        let (producer, client, ingress) = try makeIngress(environment, clientID: "ingress-a", maxDeadLetterBytes: 4096)
        let publisher = try makePublisher(environment)
        let readings = try collector(environment, topic: environment.topics.readings)
        let dead = try collector(environment, topic: environment.topics.deadLetter)
        let statuses = try collector(environment, topic: environment.topics.deviceStatus)

        // 5,000 valid readings from 20 devices interleaved with 10,000 malformed inputs of every
        // kind from 10 other devices (two malformed after each valid one).
        var messages: [(topic: String, payload: [UInt8])] = []
        var expectedRejections: [String: Int] = [:]
        var random = SystemRandomNumberGenerator()
        func malformed(_ kind: Int, device: String) -> (topic: String, payload: [UInt8], reason: RejectionReason) {
            let topic = "devices/\(device)/telemetry"
            switch kind {
            case 0: return (topic, Array("{not json".utf8), .invalidJSON)
            case 1: return (topic, [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], .invalidUTF8)
            case 2:
                let deep = #"{"x":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
                return (topic, Array(deep.utf8), .tooDeep)
            case 3: return (topic, Array(#"{"ts":1,"metrics":{"t":1e999}}"#.utf8), .badMetric)
            case 4: return (topic, Array(#"{"ts":1,"metrics":{"t":NaN}}"#.utf8), .invalidJSON)
            case 5: return (topic, Array(#"{"ts":"yesterday","metrics":{"t":1}}"#.utf8), .badTimestamp)
            case 6: return (topic, Array(#"{"metrics":{"t":1}}"#.utf8), .missingTimestamp)
            case 7: return (topic, Array(#"{"ts":1,"metrics":{"t":"warm"}}"#.utf8), .badMetric)
            case 8: return (topic, [UInt8](repeating: 0x20, count: 70_000), .tooLarge)
            case 9: return ("devices/bad%id/telemetry", Array(#"{"ts":1,"metrics":{"t":1}}"#.utf8), .badDeviceID)
            case 10: return ("devices/\(device)/status", Array("sleepy".utf8), .badStatus)
            default:
                // Random bytes that start like an object but never close it.
                let bytes = [0x7B] + (0..<64).map { _ in UInt8.random(in: 0...255, using: &random) }
                return (topic, bytes, .invalidJSON)  // reclassified below by the reference decoder
            }
        }
        let reference = ReadingDecoder()
        for valid in 0..<5000 {
            let device = "d-\(valid % 20)"
            let payload = #"{"ts":\#(1_764_400_000_000 + valid),"seq":\#(valid / 20),"metrics":{"temperature":\#(Double(valid) / 8)}}"#
            messages.append(("devices/\(device)/telemetry", Array(payload.utf8)))
            for extra in 0..<2 {
                let index = valid * 2 + extra
                var bad = malformed(index % 12, device: "m-\(index % 10)")
                if index % 12 == 11 {
                    // The reason for random bytes is whatever the decoder says; it must reject them.
                    do {
                        _ = try reference.decode(bad.payload, device: DeviceID("m-0")!)
                        continue
                    } catch {
                        bad.reason = error.reason
                    }
                }
                messages.append((bad.topic, bad.payload))
                expectedRejections[bad.reason.rawValue, default: 0] += 1
            }
        }
        messages.append(("devices/d-3/status", Array("offline".utf8)))
        let toPublish = messages
        let expected = expectedRejections

        try await whileRunning(
            [producer, readings, dead, statuses, ingress, publisher],
            logger: logger
        ) {
            try await waitUntil(10, "ingress connected") { client.isConnected && publisher.isConnected }
            try await Task.sleep(for: .milliseconds(300))  // subscriptions in place
            try await publish(publisher, toPublish)
            try await readings.waitFor(5000, timeout: 120)
            do {
                try await dead.waitFor(expected.values.reduce(0, +), timeout: 120)
            } catch {
                var reasons: [String: Int] = [:]
                for record in dead.all {
                    let reason = record.headers.first { $0.key == IngressRouting.errorHeader }.map { String(decoding: $0.value, as: UTF8.self) }
                    reasons[reason ?? "none", default: 0] += 1
                }
                Issue.record("dead letters by reason: \(reasons), expected \(expected)")
                let admin = try KafkaAdmin(bootstrapServers: environment.cluster.bootstrapServerList, logger: logger)
                for partition in 0..<Self.partitions {
                    let marks = try await admin.watermarks(topic: environment.topics.deadLetter, partition: partition)
                    let consumed = dead.all.filter { $0.partition == partition }.count
                    Issue.record("deadletter partition \(partition): watermarks \(marks.low)..<\(marks.high), consumed \(consumed), ingress forwarded \(ingress.forwarded)")
                }
                throw error
            }
            try await statuses.waitFor(1, timeout: 30)
        }

        // Every valid reading once per (device, seq) at least, keyed and normalized.
        var seen = Set<String>()
        for record in readings.all {
            let reading = try ReadingRecord.decode(record.value)
            #expect(record.key == Array(reading.device.rawValue.utf8))
            #expect(record.headers.contains { $0.key == ReadingRecord.receivedAtHeader })
            seen.insert("\(reading.device.rawValue)/\(reading.seq ?? 0)")
        }
        #expect(seen.count == 5000)
        var rejections: [String: Int] = [:]
        for record in dead.all {
            let reason = record.headers.first { $0.key == IngressRouting.errorHeader }.map { String(decoding: $0.value, as: UTF8.self) }
            rejections[reason ?? "none", default: 0] += 1
        }
        #expect(rejections == expectedRejections)
        let truncated = dead.all.filter { $0.headers.contains { $0.key == IngressRouting.originalSizeHeader } }
        #expect(truncated.count == expectedRejections[RejectionReason.tooLarge.rawValue])
        #expect(truncated.allSatisfy { $0.value.count == 4096 })
        #expect(statuses.all.map { String(decoding: $0.value, as: UTF8.self) }.contains { $0.contains(#""status":"offline""#) })
    }

    /// Whether `GET /readyz` on loopback `port` answers 200.
    static func isReady(port: Int) async -> Bool {
        guard let url = URL(string: "http://127.0.0.1:\(port)/readyz") else { return false }
        guard let (_, response) = try? await URLSession.shared.data(from: url) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    /// `count` valid readings from 50 devices; `(device, seq)` identifies each.
    func readings(_ count: Int, offset: Int = 0) -> [(topic: String, payload: [UInt8])] {
        (offset..<(offset + count)).map { index in
            let payload = #"{"ts":\#(1_764_400_000_000 + index),"seq":\#(index / 50),"metrics":{"load":\#(index % 97)}}"#
            return ("devices/dev-\(index % 50)/telemetry", Array(payload.utf8))
        }
    }

    /// Distinct `(device, seq)` pairs and the total number of records (duplicates included).
    func distinctReadings(_ collected: Collected) throws -> (distinct: Int, total: Int) {
        var seen = Set<String>()
        let all = collected.all
        for record in all {
            let reading = try ReadingRecord.decode(record.value)
            seen.insert("\(reading.device.rawValue)/\(reading.seq ?? 0)")
        }
        return (seen.count, all.count)
    }

    @Test func kafkaOutageOfTwentySecondsLosesNothing() async throws {
        let environment = try await makeEnvironment()
        defer { environment.cluster.shutdown() }
        let (producer, client, ingress) = try makeIngress(environment, clientID: "ingress-outage")
        let publisher = try makePublisher(environment)
        let collected = try collector(environment, topic: environment.topics.readings)
        let messages = readings(6000)

        try await whileRunning([producer, collected, ingress, publisher], logger: logger) {
            try await waitUntil(10, "connected") { client.isConnected && publisher.isConnected }
            try await Task.sleep(for: .milliseconds(300))
            try await publish(publisher, Array(messages[0..<2000]))
            try await collected.waitFor(2000, timeout: 60)
            // All brokers down while the stream goes on: the ingress stops acknowledging and the
            // broker queues; nothing may be lost.
            try environment.cluster.setAllBrokersDown()
            try await publish(publisher, Array(messages[2000..<6000]))
            try await Task.sleep(for: .seconds(20))
            #expect(collected.all.count < 6000, "nothing can arrive while every broker is down")
            try environment.cluster.setAllBrokersUp()
            try await waitUntil(90, "all readings after the outage") { try distinctReadings(collected).distinct >= 6000 }
        }
        let (distinct, total) = try distinctReadings(collected)
        #expect(distinct == 6000)
        print("kafka outage: \(distinct) distinct readings, \(total - distinct) duplicates")
    }

    @Test func twoInstancesShareOneStreamWithoutLoss() async throws {
        let environment = try await makeEnvironment()
        defer { environment.cluster.shutdown() }
        let (producerA, clientA, ingressA) = try makeIngress(environment, clientID: "ingress-share-a")
        let (producerB, clientB, ingressB) = try makeIngress(environment, clientID: "ingress-share-b")
        let publisher = try makePublisher(environment)
        let collected = try collector(environment, topic: environment.topics.readings)

        try await whileRunning(
            [producerA, producerB, collected, ingressA, ingressB, publisher], logger: logger
        ) {
            try await waitUntil(10, "connected") { clientA.isConnected && clientB.isConnected && publisher.isConnected }
            try await Task.sleep(for: .milliseconds(300))
            try await publish(publisher, readings(4000))
            try await waitUntil(60, "all readings") { try distinctReadings(collected).distinct >= 4000 }
        }
        #expect(try distinctReadings(collected).distinct == 4000)
        #expect(ingressA.forwarded > 0 && ingressB.forwarded > 0, "both instances take a share")
        #expect(ingressA.forwarded + ingressB.forwarded >= 4000)
        print("shared subscription: instance A \(ingressA.forwarded), instance B \(ingressB.forwarded)")
    }

    @Test func sigkillOfTheIngressThreeTimesLosesNoReading() async throws {
        let environment = try await makeEnvironment()
        defer { environment.cluster.shutdown() }
        let executable = try BuiltExecutable.path("fluxgate")
        let publisher = try makePublisher(environment)
        let collected = try collector(environment, topic: environment.topics.readings)
        let arguments = [
            "ingress", "--kafka-brokers", environment.cluster.bootstrapServers,
            "--mqtt-url", environment.broker.url, "--mqtt-client-id", "ingress-killed",
            "--kafka-topic-prefix", environment.topics.prefix, "--log-level", "warning",
        ]
        @Sendable func spawnIngress() async throws -> ChildProcess {
            let port = try FreePort.next()
            let process = try ChildProcess.spawn(executable, arguments: arguments + ["--http-port", String(port)])
            try await waitUntil(30, "ingress ready (\(process.errorLines.suffix(3)))") {
                guard process.isRunning else { throw TestTimeout(what: "ingress exited: \(process.errorLines.suffix(5))") }
                return await Self.isReady(port: port)
            }
            return process
        }
        let total = 20_000
        let messages = readings(total)

        try await whileRunning([collected, publisher], logger: logger) {
            try await waitUntil(10, "publisher connected") { publisher.isConnected }
            var process = try await spawnIngress()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await publish(publisher, messages) }
                // Kill three times while the stream flows, restarting with the same client id.
                for round in 1...3 {
                    let target = total * round / 5
                    try await waitUntil(120, "\(target) readings before kill \(round)") { collected.all.count >= target }
                    process.kill()
                    try await process.waitForExit(timeout: .seconds(5))
                    process = try await spawnIngress()
                }
                try await group.waitForAll()
            }
            try await waitUntil(120, "all readings after three kills") { try distinctReadings(collected).distinct >= total }
            try await process.stop(grace: .seconds(10))
        }
        let (distinct, all) = try distinctReadings(collected)
        #expect(distinct == total)
        print("sigkill x3: \(distinct) distinct readings of \(total), \(all - distinct) duplicates")
    }
}

/// Runs a consumer and collects every record it delivers, as one service: leaving the loop
/// closes the consumer, so the two stop together.
final class Collected: Service, Sendable {
    private let consumer: KafkaConsumer
    private let records = NIOLockedValueBox<[KafkaConsumerRecord]>([])

    init(_ consumer: KafkaConsumer) { self.consumer = consumer }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consumer.run() }
            for await record in consumer.records.cancelOnGracefulShutdown() {
                records.withLockedValue { $0.append(record) }
            }
            consumer.close()
            try await group.waitForAll()
        }
    }

    var all: [KafkaConsumerRecord] { records.withLockedValue { $0 } }

    func waitFor(_ count: Int, timeout: Double) async throws {
        try await waitUntil(timeout, "\(count) records (have \(all.count))") { all.count >= count }
    }
}
