import FluxgateTesting
import Foundation
import Kafka
import Logging
import NIOConcurrencyHelpers
import Testing

@Suite("Consumer groups and at-least-once delivery", .timeLimit(.minutes(2)))
struct KafkaConsumerGroupTests {
    let logger = makeTestLogger("kafka-group-test")

    func groupConsumer(_ cluster: DevKafkaCluster, group: String, topic: String) throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServerList,
            consumptionStrategy: .group(id: group, topics: [topic])
        )
        configuration.sessionTimeout = .seconds(6)
        configuration.heartbeatInterval = .milliseconds(500)
        configuration.commitInterval = .milliseconds(500)
        return try KafkaConsumer(configuration: configuration, logger: logger)
    }

    @Test("A second member triggers a rebalance that splits the partitions")
    func rebalanceBetweenTwoConsumers() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("grouped", partitions: 4)
        let all = (0..<4).map { KafkaTopicPartition(topic: "grouped", partition: $0) }
        let first = try groupConsumer(cluster, group: "g", topic: "grouped")
        let second = try groupConsumer(cluster, group: "g", topic: "grouped")
        let producer = try makeProducer(cluster, logger: logger)
        let firstEvents = NIOLockedValueBox<[KafkaRebalanceEvent]>([])
        let firstBox = RecordBox()
        let secondBox = RecordBox()

        try await whileRunning(producer) {
            try await whileRunning(first) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await firstBox.collect(first) }
                    group.addTask {
                        for await event in first.rebalanceEvents {
                            firstEvents.withLockedValue { $0.append(event) }
                        }
                    }
                    // Alone, the first member gets every partition.
                    try await waitUntil("first member assigned") {
                        firstEvents.withLockedValue { $0.contains(.assigned(all)) }
                    }
                    try await whileRunning(second) {
                        let secondAssigned = try await waitForRebalance(second.rebalanceEvents) {
                            if case .assigned(let partitions) = $0 { return !partitions.isEmpty }
                            return false
                        }
                        guard case .assigned(let secondPartitions) = secondAssigned else { return }
                        try await waitUntil("first member revoked and reassigned") {
                            let events = firstEvents.withLockedValue { $0 }
                            guard events.contains(.revoked(all)), case .assigned(let last)? = events.last else { return false }
                            return last != all
                        }
                        let firstPartitions = try await first.assignment()
                        #expect(Set(firstPartitions).isDisjoint(with: secondPartitions))
                        #expect(Set(firstPartitions).union(secondPartitions) == Set(all))
                        #expect(!firstPartitions.isEmpty && !secondPartitions.isEmpty)

                        // Records now flow to both members, each from its own partitions.
                        try await withThrowingTaskGroup(of: Void.self) { readers in
                            readers.addTask { await secondBox.collect(second) }
                            let results = try await producer.send(batch: (0..<40).map {
                                KafkaProducerRecord(topic: "grouped", partition: $0 % 4, key: "k\($0)", value: Array("k\($0)".utf8))
                            })
                            #expect(results.allSatisfy { (try? $0.get()) != nil })
                            try await waitUntil("40 records over both members") {
                                firstBox.count + secondBox.count >= 40
                            }
                            readers.cancelAll()
                        }
                        #expect(Set(firstBox.all.map(\.partition)).isSubset(of: firstPartitions.map(\.partition)))
                        #expect(Set(secondBox.all.map(\.partition)).isSubset(of: secondPartitions.map(\.partition)))
                        #expect(Set((firstBox.all + secondBox.all).map(\.keyString)).count == 40)
                    }
                    group.cancelAll()
                }
            }
        }
    }

    @Test("Records not marked done are read again after a restart")
    func atLeastOnce() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("alo", partitions: 1)
        let producer = try makeProducer(cluster, logger: logger)
        _ = try await whileRunning(producer) {
            try await producer.send(batch: numberedRecords(topic: "alo", prefix: "r", range: 0..<20))
        }

        let first = try groupConsumer(cluster, group: "alo-group", topic: "alo")
        let firstRead = try await whileRunning(first) {
            try await withTimeout(30, "reading 20 records") {
                var records: [KafkaConsumerRecord] = []
                for await record in first.records {
                    records.append(record)
                    // Only the first ten are processed; the app stops before the rest.
                    if records.count <= 10 { try first.markDone(record) }
                    if records.count == 20 { break }
                }
                return records
            }
        }
        #expect(firstRead.map(\.offset) == Array(0..<20))
        // run() returned: the consumer committed offset 10 and left the group.
        #expect(throws: KafkaError.self) { try first.markDone(firstRead[15]) }

        let second = try groupConsumer(cluster, group: "alo-group", topic: "alo")
        let secondRead = try await whileRunning(second) {
            try await readRecords(second, count: 10)
        }
        #expect(secondRead.map(\.offset) == Array(10..<20))
        #expect(secondRead.map(\.keyString) == (10..<20).map { "r-\($0)" })
    }

    @Test("Zero-copy batches show the records in place, and a batch marked done is not read again")
    func batchesInPlaceAndMarkedDone() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("batches", partitions: 1)
        let producer = try makeProducer(cluster, logger: logger)
        let sent = (0..<30).map { index in
            KafkaProducerRecord(
                topic: "batches",
                key: "r-\(index)",
                value: Array("value \(index)".utf8),
                headers: [KafkaHeader(key: "n", string: "\(index)")],
                timestamp: 1_764_400_000_000 + Int64(index)
            )
        }
        _ = try await whileRunning(producer) { try await producer.send(batch: sent) }

        let first = try groupConsumer(cluster, group: "batches-group", topic: "batches")
        let (copies, markedThrough) = try await whileRunning(first) {
            try await withTimeout(30, "reading 30 records in batches") {
                var copies: [KafkaConsumerRecord] = []
                var markedThrough: Int64 = -1
                for await batch in first.batches {
                    batch.forEach { view in
                        let index = copies.count
                        #expect(view.offset == Int64(index))
                        #expect(view.key.map { String(decoding: $0, as: UTF8.self) } == "r-\(index)")
                        #expect(String(decoding: view.value, as: UTF8.self) == "value \(index)")
                        #expect(view.timestamp == 1_764_400_000_000 + Int64(index))
                        #expect(view.headers == [KafkaHeader(key: "n", string: "\(index)")])
                        copies.append(view.copy())
                    }
                    #expect(batch.records == Array(copies.suffix(batch.count)))
                    // Batches ending within the first 20 records are processed; the app stops after.
                    if copies.count <= 20 {
                        try first.markDone(batch)
                        markedThrough = Int64(copies.count - 1)
                    }
                    if copies.count >= 30 { break }
                }
                return (copies, markedThrough)
            }
        }
        #expect(copies.map(\.offset) == Array(0..<30))

        let second = try groupConsumer(cluster, group: "batches-group", topic: "batches")
        let committed = try await whileRunning(second) {
            try await readRecords(second, count: 1).first?.offset
        }
        // The group resumes right after the last batch marked done.
        #expect(committed == markedThrough + 1)
    }
}

/// Polls `condition` every 20 ms until it holds.
func waitUntil(_ what: String, timeout: Double = 30, _ condition: @escaping @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(timeout)
    while !condition() {
        if ContinuousClock.now > deadline { throw TestTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}
