import Kafka
import Logging
import Telemetry

/// What the changelog holds for one readings partition: the newest partition record and the
/// newest record per device (raw; decoded when the partition is restored).
struct StoredPartition: Sendable {
    /// The newest partition record (`nil`: none, or deleted).
    var partition: [UInt8]?
    /// The newest device record per device (tombstoned devices removed).
    var devices: [DeviceID: [UInt8]] = [:]
}

/// Reads the windowing changelog topic (`<prefix>windowing-state`, one partition, compacted; keys
/// in ``StateRecords``).
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

    /// Reads the changelog from its beginning to its current end and returns the newest records,
    /// by ``StateRecords/partitionKey(topic:partition:)``. A missing or empty topic gives an empty
    /// dictionary; keys of another form are ignored.
    func load() async throws -> [String: StoredPartition] {
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
        return try await withThrowingTaskGroup(of: [String: StoredPartition]?.self) { group in
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
                var stored: [String: StoredPartition] = [:]
                var reachedEnd = false
                for await record in consumer.records {
                    if let key = record.key.flatMap({ StateRecords.parse(String(decoding: $0, as: UTF8.self)) }) {
                        // An empty value is a tombstone.
                        let value = record.value.isEmpty ? nil : record.value
                        switch key {
                        case .partition: stored[key.partitionKey, default: StoredPartition()].partition = value
                        case .device(_, _, let device): stored[key.partitionKey, default: StoredPartition()].devices[device] = value
                        }
                    }
                    if record.offset >= last {
                        reachedEnd = true
                        break
                    }
                }
                consumer.close()
                return reachedEnd ? stored : nil
            }
            var result: [String: StoredPartition]?
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
