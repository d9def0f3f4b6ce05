import FluxgateTesting
import Foundation
import Kafka
import Logging
import Testing

@Suite("Seek, admin and metadata", .timeLimit(.minutes(1)))
struct KafkaSeekAndAdminTests {
    let logger = makeTestLogger("kafka-admin-test")

    @Test("Seek by timestamp and by offset")
    func seek() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("timed", partitions: 1)
        let base: Int64 = 1_764_400_000_000
        let producer = try makeProducer(cluster, logger: logger)
        _ = try await whileRunning(producer) {
            try await producer.send(batch: (0..<10).map {
                KafkaProducerRecord(topic: "timed", key: "d", value: [UInt8($0)], timestamp: base + Int64($0) * 1000)
            })
        }
        let partition = KafkaTopicPartition(topic: "timed", partition: 0)
        let consumer = try makePartitionConsumer(cluster, topic: "timed", partitions: 1, logger: logger)
        let box = RecordBox()
        try await whileRunning(consumer) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await box.collect(consumer) }
                try await box.waitFor(10)
                let offsets = try await consumer.seek([partition], toTimestamp: base + 5500)
                #expect(offsets[partition] == 6)
                try await box.waitFor(14)
                #expect(box.all[10..<14].map(\.offset) == [6, 7, 8, 9])
                #expect(box.all[10].timestamp == base + 6000)
                try await consumer.seek(partition, to: .offset(2))
                try await box.waitFor(22)
                #expect(box.all[14..<22].map(\.offset) == Array(2..<10))
                group.cancelAll()
            }
        }
    }

    @Test("Topics, partitions and watermarks")
    func metadataAndWatermarks() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("admin-topic", partitions: 5)
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServerList, logger: logger)
        let topics = try await admin.listTopics()
        let topic = try #require(topics.first { $0.name == "admin-topic" })
        #expect(topic.partitions.map(\.id) == Array(0..<5))
        #expect(topic.partitions.allSatisfy { (1...3).contains($0.leader) && $0.replicas.count == 3 })

        let producer = try makeProducer(cluster, logger: logger)
        _ = try await whileRunning(producer) {
            try await producer.send(batch: (0..<7).map { KafkaProducerRecord(topic: "admin-topic", partition: 2, value: [UInt8($0)]) })
        }
        #expect(try await admin.watermarks(topic: "admin-topic", partition: 2) == KafkaWatermarks(low: 0, high: 7))
        #expect(try await admin.watermarks(topic: "admin-topic", partition: 0) == KafkaWatermarks(low: 0, high: 0))
    }

    @Test("CreateTopics: the dev cluster has no such API; the call fails with a typed error, not a hang")
    func createTopicThroughAdmin() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServerList, logger: logger)
        let error = await #expect(throws: KafkaError.self) {
            try await admin.createTopic("created-by-admin", partitions: 4, timeout: .seconds(5))
        }
        // The mock names no controller, so librdkafka waits for one until the timeout.
        #expect([KafkaError.Code("rdkafka._UNSUPPORTED_FEATURE"), KafkaError.Code("rdkafka._TIMED_OUT")].contains(error?.code))
        await #expect(throws: KafkaError.self) {
            try await admin.createTopic("", partitions: 4)
        }
    }
}

@Suite("Dev cluster and errors", .timeLimit(.minutes(1)))
struct DevKafkaClusterTests {
    let logger = makeTestLogger("kafka-dev-cluster-test")

    @Test("Another process (kcat) sees the brokers and topics over TCP")
    func reachableByKcat() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("visible", partitions: 2)
        #expect(cluster.bootstrapServers.split(separator: ",").count == 3)
        // ChildProcess, not Foundation's Process (whose run() can crash a test process that
        // holds many descriptors; see ChildProcess).
        let kcat = try ChildProcess.spawn("/usr/bin/kcat", arguments: ["-b", cluster.bootstrapServers, "-L", "-m", "10"])
        try await kcat.waitForOutput(timeout: .seconds(20)) { lines in
            lines.contains { $0.contains("topic \"visible\" with 2 partitions") }
        }
        #expect(try await kcat.waitForExit(timeout: .seconds(20)) == 0)
        #expect(kcat.outputLines.contains { $0.contains("3 brokers") })
    }

    @Test("Bad input is a typed error")
    func badInput() throws {
        #expect(throws: KafkaError.self) { try DevKafkaCluster(brokerCount: 0, logger: logger) }
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        #expect(throws: KafkaError.self) { try cluster.createTopic("bad", partitions: 0) }
        #expect(throws: KafkaError.self) { try cluster.setBrokerDown(7) }
        cluster.shutdown()
        let error = #expect(throws: KafkaError.self) { try cluster.createTopic("late", partitions: 1) }
        #expect(error?.code == .shutDown)
        cluster.shutdown()
    }

    @Test("A rejected librdkafka property is a configuration error")
    func rejectedProperty() throws {
        var configuration = KafkaProducerConfiguration(bootstrapServers: ["127.0.0.1:1"])
        configuration.additionalProperties["no.such.property"] = "1"
        let error = #expect(throws: KafkaError.self) {
            try KafkaProducer(configuration: configuration, logger: logger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains("no.such.property") == true)
        let consumer = KafkaConsumerConfiguration(bootstrapServers: ["127.0.0.1:1"], consumptionStrategy: .group(id: "", topics: []))
        #expect(throws: KafkaError.self) { try KafkaConsumer(configuration: consumer, logger: logger) }
    }

    @Test("librdkafka errors carry stable codes and retriability")
    func errorCodes() {
        let error = KafkaError(code: .shutDown, message: "m")
        #expect(!error.isFatal && !error.isRetriable)
        #expect(KafkaError.Code.shutDown.rawValue == "kafka.shut-down")
    }
}
