import Foundation
import Kafka
import Logging
import Testing

/// Each record of a `send(batch:)` gets its own outcome, in order, whatever happens to its
/// neighbours, and shutdown never leaves a record without one.
@Suite("Producer outcomes per record", .timeLimit(.minutes(2)))
struct KafkaProducerOutcomeTests {
    let logger = makeTestLogger("kafka-outcome-test")

    @Test("A batch mixing topics, refused and accepted records reports each record's own outcome in order")
    func mixedBatch() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("outcome-a", partitions: 2)
        try cluster.createTopic("outcome-b", partitions: 1)
        let producer = try makeProducer(cluster, logger: logger)
        // Every 7th record has no topic name (refused before librdkafka takes it), every 11th is
        // larger than message.max.bytes (librdkafka refuses it); the rest alternate topics in runs.
        var records: [KafkaProducerRecord] = []
        var expected: [String?] = []  // the topic of a delivered record, nil for a refused one
        for index in 0..<300 {
            let topic = (index / 5) % 2 == 0 ? "outcome-a" : "outcome-b"
            if index % 7 == 3 {
                records.append(KafkaProducerRecord(topic: "", key: "r-\(index)", value: [1]))
                expected.append(nil)
            } else if index % 11 == 5 {
                records.append(KafkaProducerRecord(topic: topic, key: "r-\(index)", value: [UInt8](repeating: 0, count: 2_000_000)))
                expected.append(nil)
            } else {
                records.append(KafkaProducerRecord(topic: topic, key: "r-\(index)", value: Array("r-\(index)".utf8)))
                expected.append(topic)
            }
        }
        let batch = records
        let results = try await whileRunning(producer) {
            try await producer.send(batch: batch)
        }
        #expect(results.count == records.count)
        var lastOffset: [String: Int64] = [:]
        for (index, (result, topic)) in zip(results, expected).enumerated() {
            switch (result, topic) {
            case (.success(let report), let topic?):
                #expect(report.topic == topic, "record \(index)")
                // An idempotent producer keeps each partition's records in send order.
                let partitionKey = "\(report.topic)/\(report.partition)"
                #expect(report.offset > lastOffset[partitionKey, default: -1], "record \(index) in order")
                lastOffset[partitionKey] = report.offset
            case (.failure(let error), nil):
                let code = index % 7 == 3 ? KafkaError.Code.invalidArgument : KafkaError.Code.messageSizeTooLarge
                #expect(error.code == code, "record \(index): \(error)")
            default:
                Issue.record("record \(index): expected \(topic ?? "a failure"), got \(result)")
            }
        }
        let delivered = expected.compactMap { $0 }
        let total = try await totalRecords(cluster, topic: "outcome-a", partitions: 2, logger: logger)
            + totalRecords(cluster, topic: "outcome-b", partitions: 1, logger: logger)
        #expect(total == Int64(delivered.count))
    }

    @Test("Shutdown while every broker is down: each pending record fails with its own outcome, none is left waiting")
    func shutdownWithBrokersDown() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("outcome-down", partitions: 2)
        try cluster.setAllBrokersDown()
        let producer = try makeProducer(cluster, logger: logger) {
            $0.flushTimeout = .milliseconds(500)
        }
        let results = try await withThrowingTaskGroup(of: [Result<KafkaDeliveryReport, KafkaError>]?.self) { group in
            group.addTask {
                try await producer.run()
                return nil
            }
            group.addTask {
                try await producer.send(batch: numberedRecords(topic: "outcome-down", prefix: "d", range: 0..<500))
            }
            // Give the sender time to hand its records over (librdkafka queues them while no
            // broker is reachable), then shut down.
            try await Task.sleep(for: .seconds(1))
            group.cancelAll()
            var results: [Result<KafkaDeliveryReport, KafkaError>] = []
            while let part = try await group.next() {
                if let part { results = part }
            }
            return results
        }
        #expect(results.count == 500)
        let failures = results.compactMap { result -> KafkaError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(failures.count == 500, "no broker was up: nothing can have been delivered")
    }
}
