import Kafka
import Logging

/// Reads the windowing changelog topic (`<prefix>windowing-state`, one partition, compacted):
/// the newest ``PartitionSnapshot`` per readings partition.
struct StateChangelog: Sendable {
    let bootstrapServers: [String]
    let topic: String
    let timeout: Duration
    let logger: Logger

    static func watermarks(admin: KafkaAdmin, topic: String) async -> Result<KafkaWatermarks, KafkaError> {
        do {
            return .success(try await admin.watermarks(topic: topic, partition: 0))
        } catch {
            return .failure(error)
        }
    }

    /// Reads the changelog from its beginning to its current end and returns the newest
    /// snapshot per key. A missing or empty topic gives an empty dictionary.
    func load() async throws -> [String: PartitionSnapshot] {
        let admin = try KafkaAdmin(bootstrapServers: bootstrapServers, clientID: "fluxgate-windowing-restore", logger: logger)
        let marks: KafkaWatermarks
        switch await Self.watermarks(admin: admin, topic: topic) {
        case .success(let value):
            marks = value
        case .failure(let error):
            guard error.code.rawValue.contains("UNKNOWN_TOPIC") else { throw error }
            logger.info("no windowing changelog yet", metadata: ["topic": "\(topic)"])
            return [:]
        }
        guard marks.high > marks.low else { return [:] }
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrapServers,
            consumptionStrategy: .partitions([KafkaTopicPartition(topic: topic, partition: 0): .offset(marks.low)], groupID: nil)
        )
        configuration.clientID = "fluxgate-windowing-restore"
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let last = marks.high - 1
        let timeout = self.timeout
        return try await withThrowingTaskGroup(of: [String: PartitionSnapshot]?.self) { group in
            group.addTask {
                try await consumer.run()
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                consumer.close()
                return nil
            }
            group.addTask {
                var snapshots: [String: PartitionSnapshot] = [:]
                var reachedEnd = false
                for await record in consumer.records {
                    if let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) {
                        if record.value.isEmpty {
                            snapshots[key] = nil  // tombstone
                        } else if let snapshot = PartitionSnapshot.decode(record.value) {
                            snapshots[key] = snapshot
                        }
                    }
                    if record.offset >= last {
                        reachedEnd = true
                        break
                    }
                }
                consumer.close()
                return reachedEnd ? snapshots : nil
            }
            var result: [String: PartitionSnapshot]?
            for try await value in group {
                if let value {
                    result = value
                    group.cancelAll()
                }
            }
            guard let result else {
                throw WindowingError(
                    code: .restoreFailed,
                    message: "Could not read the changelog \(topic) to its end within \(timeout); check that Kafka is reachable, or raise the restore timeout."
                )
            }
            return result
        }
    }
}
