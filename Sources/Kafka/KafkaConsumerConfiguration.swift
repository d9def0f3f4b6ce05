/// Configuration of a ``KafkaConsumer``. Delivery is at least once: an offset is stored only
/// after ``KafkaConsumer/markDone(_:)``, stored offsets are committed periodically and on close.
public struct KafkaConsumerConfiguration: Sendable {
    /// What to read.
    public enum ConsumptionStrategy: Sendable, Hashable {
        /// Join consumer group `id` and read the partitions it assigns from `topics`; rebalances
        /// are reported on ``KafkaConsumer/rebalanceEvents``.
        case group(id: String, topics: [String])
        /// Read exactly these partitions from the given offsets. With a `groupID`, offsets marked
        /// done are committed to that group (and `.stored` starts from them); without, nothing
        /// is committed.
        case partitions([KafkaTopicPartition: KafkaOffset], groupID: String? = nil)
    }

    /// Where to start when there is no committed offset (`auto.offset.reset`).
    public enum OffsetReset: String, Sendable {
        case earliest, latest
    }

    /// Brokers to bootstrap from, `host:port` each.
    public var bootstrapServers: [String]
    /// What to read.
    public var consumptionStrategy: ConsumptionStrategy
    /// The client id the brokers see. Default: `fluxgate-consumer`.
    public var clientID: String = "fluxgate-consumer"
    /// Default: `.earliest` (nothing is skipped when a group starts).
    public var autoOffsetReset: OffsetReset = .earliest
    /// A member that sends no heartbeat for this long leaves the group (`session.timeout.ms`).
    /// Rebalances after a crash take about this long. Default: 45 s (librdkafka's default);
    /// tests use a few seconds.
    public var sessionTimeout: Duration = .seconds(45)
    /// Heartbeat interval (`heartbeat.interval.ms`). Default: 3 s; keep it under a third of
    /// `sessionTimeout`.
    public var heartbeatInterval: Duration = .seconds(3)
    /// How often stored offsets are committed (`auto.commit.interval.ms`). Default: 5 s.
    public var commitInterval: Duration = .seconds(5)
    /// Most records buffered between librdkafka and the app. When full, the consumer stops
    /// polling librdkafka (whose prefetch is bounded by `queued.max.messages.kbytes`, 64 MiB of
    /// record bytes by default, and `queued.min.messages`, set to 1,000,000) until the app
    /// reads; rebalance callbacks then wait too, as with any consumer that stops polling.
    /// Default: 10 000.
    public var maxBufferedRecords: Int = 10_000
    /// Any other librdkafka property (CONFIGURATION.md), applied last so it wins. Against the
    /// dev cluster, add ``DevKafkaCluster/consumerProperties``. Default: empty.
    public var additionalProperties: [String: String] = [:]

    /// Creates a configuration.
    public init(bootstrapServers: [String], consumptionStrategy: ConsumptionStrategy) {
        self.bootstrapServers = bootstrapServers
        self.consumptionStrategy = consumptionStrategy
    }

    var groupID: String? {
        switch consumptionStrategy {
        case .group(let id, _): return id
        case .partitions(_, let groupID): return groupID
        }
    }

    func validate() throws(KafkaError) {
        if bootstrapServers.isEmpty {
            throw KafkaError(code: .configuration, message: "bootstrapServers is empty: name at least one broker host:port.")
        }
        if maxBufferedRecords < 1 {
            throw KafkaError(code: .configuration, message: "maxBufferedRecords must be at least 1.")
        }
        switch consumptionStrategy {
        case .group(let id, let topics):
            if id.isEmpty || topics.isEmpty {
                throw KafkaError(
                    code: .configuration,
                    message: "A group consumer needs a non-empty group id and at least one topic."
                )
            }
        case .partitions(let partitions, _):
            if partitions.isEmpty {
                throw KafkaError(code: .configuration, message: "Name at least one partition to read.")
            }
        }
    }

    var properties: [String: String] {
        var properties: [String: String] = [
            "bootstrap.servers": bootstrapServers.joined(separator: ","),
            "client.id": clientID,
            "enable.auto.offset.store": "false",
            "enable.auto.commit": groupID == nil ? "false" : "true",
            "auto.commit.interval.ms": String(commitInterval.milliseconds),
            "auto.offset.reset": autoOffsetReset.rawValue,
            "session.timeout.ms": String(sessionTimeout.milliseconds),
            "heartbeat.interval.ms": String(heartbeatInterval.milliseconds),
            "enable.partition.eof": "false",
            // Kafka clients in Java always set TCP_NODELAY; librdkafka leaves Nagle on unless asked.
            "socket.nagle.disable": "true",
            // librdkafka 2.0.2 stops fetching once its prefetch queue holds queued.min.messages
            // records (default 100,000) and looks again only when its broker thread next wakes,
            // up to 1 s later, however soon the app drains the queue: an app reading faster than
            // 100,000 records/s then idles for most of each second (the `records` sequence read
            // at 0.36x kcat in `LoadHarness kafka`, 0.8-1.1x with this). The prefetch stays
            // bounded by queued.max.messages.kbytes (64 MiB of record bytes by default).
            "queued.min.messages": "1000000",
        ]
        if let groupID {
            properties["group.id"] = groupID
        }
        properties.merge(additionalProperties) { _, new in new }
        return properties
    }
}
