import Kafka
import Logging

/// Reads the dead-letter topic once, from each partition's oldest record to the newest one
/// present when the scan starts: a bounded scan, so that records written meanwhile (replays
/// that fail again, say) are not read again.
///
/// No consumer group is joined and nothing is committed: listing and replaying leave no trace
/// in Kafka.
struct DeadLetterReader: Sendable {
    var bootstrapServers: [String]
    var topic: String
    /// The whole scan (metadata, watermarks, records) must finish within this.
    var timeout: Duration
    var logger: Logger

    /// What a scan saw.
    struct Summary: Sendable, Equatable {
        /// Partitions of the topic.
        var partitions = 0
        /// Records read.
        var scanned = 0
    }

    /// Calls `visit` with every record of the partitions in `only` (all when `nil`), in offset
    /// order per partition.
    func scan(only: Set<Int>? = nil, _ visit: @escaping @Sendable (DeadLetterEntry) -> Void) async throws -> Summary {
        try await Self.withDeadline(timeout, "reading \(topic) from \(bootstrapServers.joined(separator: ","))") {
            try await scanWithoutDeadline(only: only, visit)
        }
    }

    private func scanWithoutDeadline(only: Set<Int>?, _ visit: @escaping @Sendable (DeadLetterEntry) -> Void) async throws -> Summary {
        let brokers = bootstrapServers.joined(separator: ",")
        var summary = Summary()
        var ranges: [KafkaTopicPartition: KafkaWatermarks] = [:]
        do {
            let admin = try KafkaAdmin(bootstrapServers: bootstrapServers, clientID: "fluxgate-deadletter", logger: logger)
            guard let metadata = try await admin.listTopics(timeout: timeout).first(where: { $0.name == topic }) else {
                throw DeadLetterError(
                    .topicNotFound,
                    "the dead-letter topic \(topic) does not exist on \(brokers): check --kafka-topic-prefix and --kafka-brokers.")
            }
            summary.partitions = metadata.partitions.count
            for partition in metadata.partitions where only?.contains(partition.id) ?? true {
                let marks = try await admin.watermarks(topic: topic, partition: partition.id, timeout: timeout)
                if marks.high > marks.low {
                    ranges[KafkaTopicPartition(topic: topic, partition: partition.id)] = marks
                }
            }
        } catch let error as KafkaError {
            throw DeadLetterError(.kafka, "cannot read the metadata of \(topic) from \(brokers): \(error); check --kafka-brokers.")
        }
        if let only, let missing = only.first(where: { !(0..<summary.partitions).contains($0) }) {
            throw DeadLetterError(
                .invalidSelection, "--offsets names partition \(missing), but \(topic) has partitions 0-\(summary.partitions - 1).")
        }
        guard !ranges.isEmpty else { return summary }

        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: bootstrapServers,
            consumptionStrategy: .partitions(ranges.mapValues { .offset($0.low) })
        )
        configuration.clientID = "fluxgate-deadletter"
        configuration.maxBufferedRecords = 1_000
        let consumer: KafkaConsumer
        do {
            consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        } catch {
            throw DeadLetterError(.kafka, "cannot create a Kafka consumer for \(brokers): \(error)")
        }
        let expected = ranges.values.reduce(0) { $0 + Int($1.high - $1.low) }
        let toRead = ranges
        return try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                try await consumer.run()
                return nil
            }
            group.addTask {
                var remaining = toRead
                var scanned = 0
                for await record in consumer.records {
                    guard let marks = remaining[record.topicPartition] else { continue }
                    if record.offset < marks.high {
                        scanned += 1
                        visit(DeadLetterEntry(record))
                    }
                    if record.offset >= marks.high - 1 {
                        remaining[record.topicPartition] = nil
                        if remaining.isEmpty { break }
                    }
                }
                // Leaving the loop closed the consumer; run() returns.
                return scanned
            }
            var scanned: Int?
            while let result = try await group.next() {
                if let result { scanned = result }
            }
            summary.scanned = scanned ?? 0
            logger.debug("scanned dead letters", metadata: ["expected": "\(expected)", "scanned": "\(summary.scanned)"])
            return summary
        }
    }

    /// Runs `body`, cancelling it and throwing a timeout error when it takes longer than `limit`.
    static func withDeadline<T: Sendable>(
        _ limit: Duration,
        _ what: String,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw DeadLetterError(.timeout, "\(what) did not finish within \(limit.textForMessages); check that it is reachable or raise --timeout.")
            }
            return value
        }
    }
}

extension Duration {
    /// `30s`, `1500ms`: the form the duration settings take.
    var textForMessages: String {
        let (seconds, attoseconds) = components
        let milliseconds = seconds * 1_000 + attoseconds / 1_000_000_000_000_000
        return milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000)s" : "\(milliseconds)ms"
    }
}
