import Foundation
import FluxgateTesting
import Kafka
import Logging
import ServiceLifecycle
import Synchronization
import Telemetry

let testLogger: Logger = {
    var logger = Logger(label: "PipelineTests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = ProcessInfo.processInfo.environment["FLUXGATE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()

/// Reads topics of a pipeline from the beginning and keeps every record, as a `Service` (run it
/// with `whileRunning`).
final class TopicReader: Service, Sendable {
    private let consumer: KafkaConsumer
    private let received = Mutex<[String: [KafkaConsumerRecord]]>([:])

    /// `names` are topic names without the prefix (`readings`, `stats`, ...).
    init(_ pipeline: Pipeline, _ names: [String]) throws {
        var offsets: [KafkaTopicPartition: KafkaOffset] = [:]
        for name in names {
            for partition in 0..<pipeline.configuration.partitions {
                offsets[KafkaTopicPartition(topic: pipeline.topic(name), partition: partition)] = .beginning
            }
        }
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: pipeline.kafkaBrokers, consumptionStrategy: .partitions(offsets))
        configuration.clientID = "pipeline-tests-reader"
        consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consumer.run() }
            for await record in consumer.records.cancelOnGracefulShutdown() {
                received.withLock { $0[record.topic, default: []].append(record) }
            }
            consumer.close()
            try await group.waitForAll()
        }
    }

    /// The records of `topic` (full name) so far, in arrival order.
    func records(_ topic: String) -> [KafkaConsumerRecord] { received.withLock { $0[topic] ?? [] } }
}

/// A reading from the readings topic with the ingress's arrival time.
struct LandedReading: Sendable {
    var reading: Reading
    var receivedAt: Int64
    var device: String { reading.device.rawValue }

    init?(_ record: KafkaConsumerRecord) {
        guard let reading = try? ReadingRecord.decode(record.value),
            let header = record.headers.first(where: { $0.key == ReadingRecord.receivedAtHeader }),
            let receivedAt = Int64(String(decoding: header.value, as: UTF8.self))
        else { return nil }
        self.reading = reading
        self.receivedAt = receivedAt
    }
}

/// Publishes one payload with `mosquitto_pub` at QoS 1 and waits until it is sent.
func mosquittoPublish(_ pipeline: Pipeline, topic: String, payload: String) async throws {
    let publisher = try ChildProcess.spawn(
        "/usr/bin/mosquitto_pub",
        arguments: ["-h", pipeline.broker.host, "-p", String(pipeline.broker.port), "-q", "1", "-t", topic, "-m", payload])
    let status = try await publisher.waitForExit(timeout: .seconds(20))
    guard status == 0 else {
        throw FixtureError(code: "publish-failed", message: "mosquitto_pub exited \(status): \(publisher.errorLines)")
    }
}

/// A reading payload of the MQTT contract.
func telemetryPayload(ts: Int64, seq: Int, metrics: [String: Double]) -> String {
    let fields = metrics.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
    return #"{"ts":\#(ts),"seq":\#(seq),"metrics":{\#(fields)}}"#
}

/// Writes `text` to a new temporary file and returns its path.
func temporaryFile(_ name: String, _ text: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("pipeline-\(UUID().uuidString)-\(name)").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// The counters of `fluxgate simulate`'s last progress line (`... published N readings M ... errors E`).
func simulateCounters(_ process: ChildProcess) -> (published: Int, readings: Int, errors: Int)? {
    let segments = process.errorLines.flatMap { $0.split(separator: "\r") }
    let text = segments.last { $0.contains("published") }.map(String.init) ?? ""
    func number(after word: String) -> Int? {
        guard let range = text.range(of: word + " ", options: .backwards) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
    guard let published = number(after: "published"), let readings = number(after: "readings"),
        let errors = number(after: "errors")
    else { return nil }
    return (published, readings, errors)
}
