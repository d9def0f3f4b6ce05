import FluxgateTesting
import Foundation
import Kafka
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import Testing

/// A logger for tests: warnings and up on stderr, or the level in `KAFKA_TEST_LOG`.
func makeTestLogger(_ label: String) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = ProcessInfo.processInfo.environment["KAFKA_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

/// Runs `service` while `body` runs, then cancels it and waits for it to finish.
func whileRunning<T: Sendable>(
    _ service: some Service,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await service.run()
            return nil
        }
        do {
            let result = try await body()
            group.cancelAll()
            while try await group.next() != nil {}
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Reads `count` records (then leaves the loop, which closes the consumer).
func readRecords(_ consumer: KafkaConsumer, count: Int, timeout: Double = 30) async throws -> [KafkaConsumerRecord] {
    try await withTimeout(timeout, "reading \(count) records") {
        var records: [KafkaConsumerRecord] = []
        for await record in consumer.records {
            records.append(record)
            if records.count == count { break }
        }
        return records
    }
}

/// Waits for the first rebalance event matching `predicate`.
func waitForRebalance(
    _ events: AsyncStream<KafkaRebalanceEvent>,
    timeout: Double = 30,
    _ predicate: @escaping @Sendable (KafkaRebalanceEvent) -> Bool
) async throws -> KafkaRebalanceEvent {
    try await withTimeout(timeout, "rebalance event") {
        for await event in events where predicate(event) {
            return event
        }
        throw TestTimeout(what: "rebalance events ended")
    }
}

/// A consumer of every partition of `topic` from the beginning, without a group.
func makePartitionConsumer(
    _ cluster: DevKafkaCluster,
    topic: String,
    partitions: Int,
    logger: Logger,
    configure: (inout KafkaConsumerConfiguration) -> Void = { _ in }
) throws -> KafkaConsumer {
    var assignment: [KafkaTopicPartition: KafkaOffset] = [:]
    for partition in 0..<partitions {
        assignment[KafkaTopicPartition(topic: topic, partition: partition)] = .beginning
    }
    var configuration = KafkaConsumerConfiguration(
        bootstrapServers: cluster.bootstrapServerList,
        consumptionStrategy: .partitions(assignment)
    )
    configure(&configuration)
    return try KafkaConsumer(configuration: configuration, logger: logger)
}

/// A producer for tests with short reconnect backoff.
func makeProducer(
    _ cluster: DevKafkaCluster,
    logger: Logger,
    configure: (inout KafkaProducerConfiguration) -> Void = { _ in }
) throws -> KafkaProducer {
    var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServerList)
    configuration.additionalProperties["reconnect.backoff.max.ms"] = "500"
    configuration.additionalProperties["retry.backoff.ms"] = "50"
    configure(&configuration)
    return try KafkaProducer(configuration: configuration, logger: logger)
}

/// Records keyed `prefix-i`, value = the key bytes.
func numberedRecords(topic: String, prefix: String, range: Range<Int>) -> [KafkaProducerRecord] {
    range.map { index in
        let key = "\(prefix)-\(index)"
        return KafkaProducerRecord(topic: topic, key: key, value: Array(key.utf8))
    }
}

/// The sum of the high watermarks of a topic: how many records its partitions hold.
func totalRecords(_ cluster: DevKafkaCluster, topic: String, partitions: Int, logger: Logger) async throws -> Int64 {
    let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServerList, logger: logger)
    var total: Int64 = 0
    for partition in 0..<partitions {
        let marks = try await admin.watermarks(topic: topic, partition: partition)
        total += marks.high - marks.low
    }
    return total
}

extension KafkaConsumerRecord {
    var keyString: String { String(decoding: key ?? [], as: UTF8.self) }
}

/// Records collected by a background reader.
final class RecordBox: Sendable {
    private let records = NIOLockedValueBox<[KafkaConsumerRecord]>([])

    var all: [KafkaConsumerRecord] { records.withLockedValue { $0 } }
    var count: Int { records.withLockedValue { $0.count } }

    /// Reads `consumer` until the task is cancelled.
    func collect(_ consumer: KafkaConsumer) async {
        for await record in consumer.records {
            records.withLockedValue { $0.append(record) }
        }
    }

    /// Waits until at least `count` records arrived.
    func waitFor(_ count: Int, timeout: Double = 30) async throws {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while self.count < count {
            if ContinuousClock.now > deadline {
                throw TestTimeout(what: "\(count) records (have \(self.count))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
