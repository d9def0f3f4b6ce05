import Foundation
import FluxgateTesting
import Kafka
import Logging
import ServiceLifecycle
import Synchronization
import Telemetry
import Windowing

let testLogger: Logger = {
    var logger = Logger(label: "windowing-test") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = ProcessInfo.processInfo.environment["FLUXGATE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}()

/// Windows of 10 s, 1 s lateness and idle grace; one threshold rule with hysteresis and one
/// offline rule for `silent-*` devices.
let testRulesYAML = """
    windows: [10s]
    lateness: 1s
    idle_grace: 1s
    rules:
      - name: overheating
        metric: temperature
        above: 30
        clear: 28
        severity: critical
      - name: silent
        devices: "silent-*"
        offline: 2s
        severity: warning
    """

/// A dev cluster with the Fluxgate topics (prefix `wt.`) and the windowing changelog.
struct WindowingEnvironment: Sendable {
    static let partitions = 2
    let cluster: DevKafkaCluster
    let topics = FluxgateTopics(prefix: "wt.")

    init() throws {
        cluster = try DevKafkaCluster(brokerCount: 1, logger: testLogger)
        for topic in topics.all {
            try cluster.createTopic(topic, partitions: Self.partitions)
        }
        try cluster.createTopic(topics.prefix + "windowing-state", partitions: 1)
    }

    var servers: [String] { cluster.bootstrapServerList }

    func makeProducer() throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(bootstrapServers: servers)
        configuration.linger = .milliseconds(1)
        return try KafkaProducer(configuration: configuration, logger: testLogger)
    }

    /// A windowing service with its own consumer and producer (run the producer first).
    func makeWindowing(
        statsUpdateInterval: Duration? = nil,
        maxRecordBytes: Int? = nil,
        onReady: @escaping @Sendable () -> Void = {}
    ) throws -> (KafkaProducer, WindowingService) {
        var configuration = WindowingServiceConfiguration()
        configuration.topics = topics
        configuration.telemetry = try TelemetryConfiguration.parse(yaml: testRulesYAML)
        configuration.statsUpdateInterval = statsUpdateInterval
        configuration.snapshotInterval = .milliseconds(200)
        var consumerConfiguration = WindowingService.consumerConfiguration(bootstrapServers: servers, topics: topics)
        consumerConfiguration.sessionTimeout = .seconds(6)
        consumerConfiguration.heartbeatInterval = .milliseconds(500)
        consumerConfiguration.commitInterval = .milliseconds(200)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: testLogger)
        // The stage's own producer settings (lz4, large records), with a short linger.
        var producerConfiguration = WindowingService.producerConfiguration(bootstrapServers: servers, clientID: "windowing-test")
        producerConfiguration.linger = .milliseconds(1)
        if let maxRecordBytes { producerConfiguration.additionalProperties["message.max.bytes"] = String(maxRecordBytes) }
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: testLogger)
        let service = WindowingService(
            configuration: configuration, consumer: consumer, producer: producer, bootstrapServers: servers, logger: testLogger,
            onReady: onReady)
        return (producer, service)
    }

    /// Collects every record of the stats and alerts topics from the beginning.
    func makeCollector() throws -> Collected {
        var offsets: [KafkaTopicPartition: KafkaOffset] = [:]
        for topic in [topics.stats, topics.alerts, topics.deadLetter] {
            for partition in 0..<Self.partitions {
                offsets[KafkaTopicPartition(topic: topic, partition: partition)] = .beginning
            }
        }
        let consumer = try KafkaConsumer(
            configuration: KafkaConsumerConfiguration(bootstrapServers: servers, consumptionStrategy: .partitions(offsets)),
            logger: testLogger)
        return Collected(consumer, topics: topics)
    }

    /// Produces readings to the readings topic (key = device, `fluxgate-received-at` = now).
    func produce(_ readings: [Reading], with producer: KafkaProducer) async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let records = readings.map {
            KafkaProducerRecord(
                topic: topics.readings, key: $0.device.rawValue, value: ReadingRecord.encode($0),
                headers: [KafkaHeader(key: ReadingRecord.receivedAtHeader, string: String(now))])
        }
        for result in try await producer.send(batch: records) {
            _ = try result.get()
        }
    }
}

/// Runs a consumer and collects stats and alerts, as one service.
final class Collected: Service, Sendable {
    private let consumer: KafkaConsumer
    private let topics: FluxgateTopics
    private let state = Mutex<(stats: [WindowStats], alerts: [AlertTransition], deadLetters: Int)>(([], [], 0))

    init(_ consumer: KafkaConsumer, topics: FluxgateTopics) {
        self.consumer = consumer
        self.topics = topics
    }

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.consumer.run() }
            for await record in consumer.records.cancelOnGracefulShutdown() {
                if record.topic == topics.stats, let stats = try? WindowStats.decode(record.value) {
                    state.withLock { $0.stats.append(stats) }
                } else if record.topic == topics.alerts, let alert = try? AlertTransition.decode(record.value) {
                    state.withLock { $0.alerts.append(alert) }
                } else if record.topic == topics.deadLetter {
                    state.withLock { $0.deadLetters += 1 }
                }
            }
            consumer.close()
            try await group.waitForAll()
        }
    }

    var stats: [WindowStats] { state.withLock { $0.stats } }
    var alerts: [AlertTransition] { state.withLock { $0.alerts } }

    /// The newest final record per window key of `device`.
    func finalWindows(device: String) -> [String: WindowStats] {
        var result: [String: WindowStats] = [:]
        for stats in self.stats where stats.final && stats.device.rawValue == device {
            result[stats.key] = stats
        }
        return result
    }

    func alerts(device: String) -> [AlertTransition] { alerts.filter { $0.device.rawValue == device } }
}

/// Epoch milliseconds now, aligned down to a 10 s window, minus `windowsBack` windows.
func alignedStart(windowsBack: Int64) -> Int64 {
    let now = Int64(Date().timeIntervalSince1970 * 1000)
    return (now / 10_000) * 10_000 - windowsBack * 10_000
}

func reading(_ device: String, ts: Int64, seq: UInt64, temperature: Double) -> Reading {
    Reading(device: DeviceID(device)!, ts: ts, seq: seq, metrics: [Metric("temperature", temperature)])
}

/// What a window over `readings` (all of one device and metric) must report.
struct NaiveWindow: Equatable {
    var count: UInt64
    var min: Double
    var max: Double
    var mean: Double
    var last: Double

    init(_ values: [(ts: Int64, value: Double)]) {
        count = UInt64(values.count)
        min = values.map(\.value).min()!
        max = values.map(\.value).max()!
        mean = values.map(\.value).reduce(0, +) / Double(values.count)
        last = values.max { $0.ts < $1.ts }!.value
    }

    func matches(_ stats: WindowStats) -> Bool {
        stats.count == count && stats.min == min && stats.max == max && abs(stats.mean - mean) < 1e-9 && stats.last == last
    }
}

/// Expected final windows (10 s tumbling) of one device's temperature readings, by key.
func naiveWindows(_ readings: [Reading]) -> [String: NaiveWindow] {
    var groups: [Int64: [(ts: Int64, value: Double)]] = [:]
    for reading in readings {
        groups[reading.ts / 10_000 * 10_000, default: []].append((reading.ts, reading.value(of: "temperature")!))
    }
    var result: [String: NaiveWindow] = [:]
    for (start, values) in groups {
        result["\(readings[0].device.rawValue)|temperature|10s|\(start)"] = NaiveWindow(values)
    }
    return result
}

/// True when no alert id has a state that contradicts an earlier one: per id, the first
/// occurrences go active, (acknowledged,) cleared; later records only repeat states seen.
func transitionsAreConsistent(_ alerts: [AlertTransition]) -> Bool {
    var seen: [String: [AlertState]] = [:]
    for alert in alerts {
        var states = seen[alert.id, default: []]
        if states.contains(alert.state) { continue }
        switch alert.state {
        case .active: if !states.isEmpty { return false }
        case .acknowledged: if states != [.active] { return false }
        case .cleared: if states.first != .active { return false }
        }
        states.append(alert.state)
        seen[alert.id] = states
    }
    return true
}
