import FluxgateTesting
import Foundation
import Kafka
import Testing

@Suite("Produce and consume round trip", .timeLimit(.minutes(1)))
struct KafkaRoundTripTests {
    let logger = makeTestLogger("kafka-roundtrip-test")

    @Test("Records keep key, value, headers and timestamp")
    func roundTrip() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("roundtrip", partitions: 3)
        let producer = try makeProducer(cluster, logger: logger)
        let sent: [KafkaProducerRecord] = (0..<10).map { index in
            KafkaProducerRecord(
                topic: "roundtrip",
                key: "device-\(index % 4)",
                value: Array("reading \(index)".utf8),
                headers: [
                    KafkaHeader(key: "fluxgate-received-at", string: "\(1_764_400_000_000 + index)"),
                    KafkaHeader(key: "binary", value: [0, 255, UInt8(index)]),
                ],
                timestamp: 1_764_400_000_000 + Int64(index)
            )
        }
        let reports = try await whileRunning(producer) {
            try await producer.send(batch: sent).map { try $0.get() }
        }
        #expect(reports.count == 10)
        #expect(Set(reports.map { "\($0.partition)/\($0.offset)" }).count == 10)

        let consumer = try makePartitionConsumer(cluster, topic: "roundtrip", partitions: 3, logger: logger)
        let received = try await whileRunning(consumer) {
            try await readRecords(consumer, count: 10)
        }
        let byValue = Dictionary(uniqueKeysWithValues: received.map { (String(decoding: $0.value, as: UTF8.self), $0) })
        for (index, record) in sent.enumerated() {
            let got = try #require(byValue["reading \(index)"])
            #expect(got.key == record.key)
            #expect(got.headers == record.headers)
            #expect(got.timestamp == record.timestamp)
            #expect(got.topic == "roundtrip")
            #expect(got.partition == reports[index].partition)
            #expect(got.offset == reports[index].offset)
        }
        // Same key, same partition.
        let partitionsByKey = Dictionary(grouping: received, by: \.keyString).mapValues { Set($0.map(\.partition)) }
        #expect(partitionsByKey.values.allSatisfy { $0.count == 1 })
    }

    @Test("A small buffer stops polling without losing or repeating records")
    func boundedBuffer() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("bounded", partitions: 2)
        let producer = try makeProducer(cluster, logger: logger)
        let results = try await whileRunning(producer) {
            try await producer.send(batch: numberedRecords(topic: "bounded", prefix: "r", range: 0..<2000))
        }
        #expect(results.allSatisfy { (try? $0.get()) != nil })

        let consumer = try makePartitionConsumer(cluster, topic: "bounded", partitions: 2, logger: logger) {
            $0.maxBufferedRecords = 10
        }
        let received = try await whileRunning(consumer) {
            try await withTimeout(30, "slow reader") {
                var records: [KafkaConsumerRecord] = []
                for await record in consumer.records {
                    records.append(record)
                    if records.count % 200 == 0 { try await Task.sleep(for: .milliseconds(20)) }
                    if records.count == 2000 { break }
                }
                return records
            }
        }
        #expect(Set(received.map(\.keyString)).count == 2000)
        for partition in 0..<2 {
            let offsets = received.filter { $0.partition == partition }.map(\.offset)
            #expect(offsets == Array(0..<Int64(offsets.count)), "partition \(partition) in order, no gaps")
        }
    }

    @Test("Paused partitions deliver nothing until resumed")
    func pauseResume() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("paused", partitions: 1)
        let producer = try makeProducer(cluster, logger: logger)
        let consumer = try makePartitionConsumer(cluster, topic: "paused", partitions: 1, logger: logger)
        let partition = KafkaTopicPartition(topic: "paused", partition: 0)
        let box = RecordBox()
        try await whileRunning(producer) {
            try await whileRunning(consumer) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await box.collect(consumer) }
                    _ = try await producer.send(KafkaProducerRecord(topic: "paused", key: "a", value: [1]))
                    try await box.waitFor(1)
                    try await consumer.pause([partition])
                    _ = try await producer.send(KafkaProducerRecord(topic: "paused", key: "a", value: [2]))
                    try await Task.sleep(for: .seconds(2))
                    #expect(box.count == 1, "nothing arrives while paused")
                    try await consumer.resume([partition])
                    try await box.waitFor(2)
                    #expect(box.all.map(\.value) == [[1], [2]])
                    group.cancelAll()
                }
            }
        }
    }
}
