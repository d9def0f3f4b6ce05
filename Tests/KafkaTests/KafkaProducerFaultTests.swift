import Foundation
import Kafka
import Logging
import Testing

@Suite("Producer under faults", .timeLimit(.minutes(2)))
struct KafkaProducerFaultTests {
    let logger = makeTestLogger("kafka-fault-test")

    /// Reads every record of `topic` and counts each key.
    func keyCounts(_ cluster: DevKafkaCluster, topic: String, partitions: Int, expected: Int) async throws -> [String: Int] {
        let consumer = try makePartitionConsumer(cluster, topic: topic, partitions: partitions, logger: logger)
        let records = try await whileRunning(consumer) {
            try await readRecords(consumer, count: expected)
        }
        return Dictionary(grouping: records, by: \.keyString).mapValues(\.count)
    }

    @Test("All brokers down for 10 s: every record delivered exactly once")
    func clusterOutage() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("outage", partitions: 3)
        let producer = try makeProducer(cluster, logger: logger)
        let total = 600
        let results = try await whileRunning(producer) {
            try await withThrowingTaskGroup(of: [Result<KafkaDeliveryReport, KafkaError>].self) { group in
                group.addTask {
                    var results: [Result<KafkaDeliveryReport, KafkaError>] = []
                    for start in stride(from: 0, to: total, by: 30) {
                        results += try await producer.send(batch: numberedRecords(topic: "outage", prefix: "s", range: start..<(start + 30)))
                        try await Task.sleep(for: .milliseconds(25))
                    }
                    return results
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(150))
                    try cluster.setAllBrokersDown()
                    try await Task.sleep(for: .seconds(10))
                    try cluster.setAllBrokersUp()
                    return []
                }
                var all: [Result<KafkaDeliveryReport, KafkaError>] = []
                for try await part in group { all += part }
                return all
            }
        }
        #expect(results.count == total)
        let failures = results.compactMap { result -> KafkaError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(try await totalRecords(cluster, topic: "outage", partitions: 3, logger: logger) == Int64(total), "no duplicates in the log")
        let counts = try await keyCounts(cluster, topic: "outage", partitions: 3, expected: total)
        #expect(counts.count == total)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test("Injected retriable Produce errors: none lost, none duplicated")
    func injectedErrors() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("flaky", partitions: 3)
        let producer = try makeProducer(cluster, logger: logger)
        let total = 300
        let results = try await whileRunning(producer) {
            // Warm up the connections so the errors hit Produce requests that carry records.
            _ = try await producer.send(KafkaProducerRecord(topic: "flaky", key: "warm-up", value: []))
            cluster.injectRequestErrors(
                [
                    .notEnoughReplicas, .notLeaderForPartition, .notEnoughReplicas, .notLeaderForPartition,
                    .notEnoughReplicasAfterAppend, .requestTimedOut, .notEnoughReplicas, .notLeaderForPartition,
                ],
                for: .produce
            )
            var results: [Result<KafkaDeliveryReport, KafkaError>] = []
            for start in stride(from: 0, to: total, by: 50) {
                results += try await producer.send(batch: numberedRecords(topic: "flaky", prefix: "e", range: start..<(start + 50)))
            }
            return results
        }
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        #expect(try await totalRecords(cluster, topic: "flaky", partitions: 3, logger: logger) == Int64(total + 1))
        let counts = try await keyCounts(cluster, topic: "flaky", partitions: 3, expected: total + 1)
        #expect(counts.count == total + 1)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test("Partition leaders move while producing: none lost, none duplicated")
    func leaderMoves() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("moving", partitions: 2)
        let producer = try makeProducer(cluster, logger: logger)
        let results = try await whileRunning(producer) {
            var results: [Result<KafkaDeliveryReport, KafkaError>] = []
            for round in 0..<6 {
                try cluster.setPartitionLeader(topic: "moving", partition: round % 2, brokerID: cluster.brokerIDs[round % 3])
                results += try await producer.send(batch: numberedRecords(topic: "moving", prefix: "m\(round)", range: 0..<50))
            }
            return results
        }
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        #expect(try await totalRecords(cluster, topic: "moving", partitions: 2, logger: logger) == 300)
        let counts = try await keyCounts(cluster, topic: "moving", partitions: 2, expected: 300)
        #expect(counts.count == 300)
        #expect(counts.values.allSatisfy { $0 == 1 })
    }

    @Test("A full client queue is backpressure: more records than fit are all delivered")
    func queueFullBackpressure() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("tiny-queue", partitions: 2)
        let producer = try makeProducer(cluster, logger: logger) {
            $0.maxQueuedRecords = 10
        }
        try cluster.setRoundTripTime(.milliseconds(5), brokerID: 1)
        let results = try await whileRunning(producer) {
            try await withThrowingTaskGroup(of: [Result<KafkaDeliveryReport, KafkaError>].self) { group in
                for sender in 0..<3 {
                    group.addTask {
                        try await producer.send(batch: numberedRecords(topic: "tiny-queue", prefix: "q\(sender)", range: 0..<400))
                    }
                }
                var all: [Result<KafkaDeliveryReport, KafkaError>] = []
                for try await part in group { all += part }
                return all
            }
        }
        #expect(results.count == 1200)
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        #expect(try await totalRecords(cluster, topic: "tiny-queue", partitions: 2, logger: logger) == 1200)
    }

    @Test("Sending after shutdown fails with kafka.shut-down")
    func sendAfterShutdown() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        let producer = try makeProducer(cluster, logger: logger)
        try await whileRunning(producer) {}
        let error = await #expect(throws: KafkaError.self) {
            _ = try await producer.send(KafkaProducerRecord(topic: "late", value: [1]))
        }
        #expect(error?.code == .shutDown)
    }
}
