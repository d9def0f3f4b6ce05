import CRdKafka
import Logging
import NIOConcurrencyHelpers

/// A development Kafka cluster: librdkafka's mock cluster (`rdkafka_mock.h`) in this process,
/// speaking the real Kafka protocol over TCP on loopback, so other processes (`kcat -b`,
/// other Fluxgate stages) can use it too. With fault injection for tests.
///
/// Limits: in memory only; each partition keeps at most 5 MiB (older records are dropped);
/// no transaction semantics (read_committed and transactional offsets are not honoured);
/// consumer-group joins wait about 3 s and rebalances about `session.timeout.ms`; topics can be
/// created only through ``createTopic(_:partitions:)`` or auto-creation (the mock has no
/// CreateTopics API); a fault-injection call made right after another one returned can wait up
/// to a second (the mock's thread may read the second call's wake-up before it serves it).
///
/// A process that hosts a dev cluster and takes brokers down must start its child processes
/// through ``spawningChildProcess(_:)``.
public final class DevKafkaCluster: Sendable {
    /// Consumer properties that suit the dev cluster: its mock brokers hold a fetch that finds
    /// no records for the whole `fetch.wait.max.ms` (librdkafka's default: 500 ms) even when
    /// records arrive meanwhile, which real brokers do not; 10 ms keeps that wait out of every
    /// record's latency. (`fluxgate` stages: `--kafka-fetch-wait 10ms`.)
    public static let consumerProperties = ["fetch.wait.max.ms": "10"]

    /// A Kafka protocol request type (API key) to inject errors into.
    public struct Request: Sendable, Hashable {
        /// The Kafka API key.
        public let apiKey: Int16

        /// Creates a request type from its Kafka API key.
        public init(apiKey: Int16) { self.apiKey = apiKey }

        public static let produce = Request(apiKey: 0)
        public static let fetch = Request(apiKey: 1)
        public static let listOffsets = Request(apiKey: 2)
        public static let metadata = Request(apiKey: 3)
        public static let offsetCommit = Request(apiKey: 8)
        public static let offsetFetch = Request(apiKey: 9)
        public static let findCoordinator = Request(apiKey: 10)
        public static let joinGroup = Request(apiKey: 11)
        public static let heartbeat = Request(apiKey: 12)
        public static let syncGroup = Request(apiKey: 14)
        public static let initProducerID = Request(apiKey: 22)
    }

    /// A broker error code to inject (Kafka protocol error numbers).
    public struct BrokerError: Sendable, Hashable {
        /// The `rd_kafka_resp_err_t` value.
        public let rawValue: Int32

        /// Creates an error from its Kafka protocol error number.
        public init(rawValue: Int32) { self.rawValue = rawValue }

        public static let leaderNotAvailable = BrokerError(rawValue: RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue)
        public static let notLeaderForPartition = BrokerError(rawValue: RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue)
        public static let requestTimedOut = BrokerError(rawValue: RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue)
        public static let networkException = BrokerError(rawValue: RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION.rawValue)
        public static let coordinatorNotAvailable = BrokerError(rawValue: RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue)
        public static let notCoordinator = BrokerError(rawValue: RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue)
        public static let notEnoughReplicas = BrokerError(rawValue: RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue)
        public static let notEnoughReplicasAfterAppend = BrokerError(rawValue: RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND.rawValue)
        /// The broker drops the connection instead of answering.
        public static let disconnect = BrokerError(rawValue: RD_KAFKA_RESP_ERR__TRANSPORT.rawValue)
    }

    private struct Cluster: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let handle: RDKafkaHandle
    /// `nil` after `shutdown()`; every mock call holds the lock so none outlives the cluster.
    private let cluster: NIOLockedValueBox<Cluster?>
    private let logger: Logger

    /// The `host:port,host:port,...` list to bootstrap clients from.
    public let bootstrapServers: String
    /// The broker ids: `1...brokerCount`.
    public let brokerIDs: [Int]

    /// Starts a cluster of `brokerCount` brokers on loopback ports chosen by the system.
    public init(brokerCount: Int = 3, logger: Logger) throws {
        guard (1...32).contains(brokerCount) else {
            throw KafkaError(code: .invalidArgument, message: "brokerCount must be between 1 and 32, not \(brokerCount).")
        }
        self.logger = logger
        // The mock cluster needs an rd_kafka_t for bookkeeping; this one connects nowhere, so
        // its notices ("No bootstrap.servers configured") are noise: warnings and up only.
        var handleLogger = logger
        handleLogger.logLevel = max(logger.logLevel, .warning)
        let handle = try RDKafkaHandle(
            type: RD_KAFKA_PRODUCER,
            properties: ["client.id": "fluxgate-dev-kafka", "log.connection.close": "false"],
            context: RDKafkaContext(logger: handleLogger)
        )
        guard let cluster = rd_kafka_mock_cluster_new(handle.pointer, Int32(brokerCount)) else {
            throw KafkaError(
                code: .clusterStart,
                message: "The librdkafka mock cluster did not start (see the log); check that loopback TCP ports can be bound."
            )
        }
        self.handle = handle
        self.cluster = NIOLockedValueBox(Cluster(pointer: cluster))
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerIDs = Array(1...brokerCount)
        disableNagle()
        logger.info("Dev Kafka cluster started", metadata: ["kafka.bootstrap": "\(bootstrapServers)"])
    }

    deinit {
        shutdown()
    }

    /// The bootstrap servers as a list, for client configurations.
    public var bootstrapServerList: [String] {
        bootstrapServers.split(separator: ",").map(String.init)
    }

    /// Creates a topic with `partitions` partitions, replicated to `replicationFactor` brokers
    /// (default: all, at most 3).
    public func createTopic(_ name: String, partitions: Int) throws {
        try createTopic(name, partitions: partitions, replicationFactor: min(3, brokerIDs.count))
    }

    /// Creates a topic with `partitions` partitions and `replicationFactor` replicas.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws {
        guard !name.isEmpty, (1...10_000).contains(partitions), (1...brokerIDs.count).contains(replicationFactor) else {
            throw KafkaError(
                code: .invalidArgument,
                message: "Topic \(name.isEmpty ? "(empty name)" : name): give a name, 1...10000 partitions and 1...\(brokerIDs.count) replicas."
            )
        }
        try call("Creating topic \(name)") {
            rd_kafka_mock_topic_create($0, name, Int32(partitions), Int32(replicationFactor))
        }
    }

    /// Takes a broker down: its connections close and new ones are refused. Leadership does not
    /// move, so its partitions are unavailable until ``setBrokerUp(_:)``.
    ///
    /// A process that also starts child processes must start them through
    /// ``spawningChildProcess(_:)``.
    public func setBrokerDown(_ brokerID: Int) throws {
        try Self.brokerSocketGate.withLock {
            try call("Taking broker \(brokerID) down") { rd_kafka_mock_broker_set_down($0, Int32(brokerID)) }
        }
    }

    /// Brings a broker back up.
    public func setBrokerUp(_ brokerID: Int) throws {
        try call("Bringing broker \(brokerID) up") { rd_kafka_mock_broker_set_up($0, Int32(brokerID)) }
        disableNagle()
    }

    /// Takes every broker down: a full cluster outage.
    public func setAllBrokersDown() throws {
        for id in brokerIDs { try setBrokerDown(id) }
    }

    /// Brings every broker back up.
    public func setAllBrokersUp() throws {
        for id in brokerIDs { try setBrokerUp(id) }
    }

    /// Moves the leadership of a partition to `brokerID` (`-1`: no leader).
    public func setPartitionLeader(topic: String, partition: Int, brokerID: Int) throws {
        try call("Moving the leader of \(topic)[\(partition)]") {
            rd_kafka_mock_partition_set_leader($0, topic, Int32(partition), Int32(brokerID))
        }
    }

    /// Adds a round-trip delay to every response of a broker.
    public func setRoundTripTime(_ delay: Duration, brokerID: Int) throws {
        try call("Setting the round-trip time of broker \(brokerID)") {
            rd_kafka_mock_broker_set_rtt($0, Int32(brokerID), Int32(delay.milliseconds))
        }
    }

    /// Makes the next `errors.count` requests of type `request` (to any broker) fail with these
    /// errors, in order.
    public func injectRequestErrors(_ errors: [BrokerError], for request: Request) {
        guard !errors.isEmpty else { return }
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        cluster.withLockedValue { cluster in
            guard let cluster else { return }
            codes.withUnsafeBufferPointer { buffer in
                rd_kafka_mock_push_request_errors_array(cluster.pointer, request.apiKey, buffer.count, buffer.baseAddress)
            }
        }
    }

    /// Removes injected errors not yet used for `request`.
    public func clearRequestErrors(for request: Request) {
        cluster.withLockedValue { cluster in
            guard let cluster else { return }
            rd_kafka_mock_clear_request_errors(cluster.pointer, request.apiKey)
        }
    }

    /// Stops the brokers and frees the cluster; safe to call more than once.
    public func shutdown() {
        cluster.withLockedValue { cluster in
            guard let running = cluster else { return }
            rd_kafka_mock_cluster_destroy(running.pointer)
            cluster = nil
            logger.info("Dev Kafka cluster stopped", metadata: ["kafka.bootstrap": "\(bootstrapServers)"])
        }
    }

    /// Sets `TCP_NODELAY` on the brokers' listening sockets (see ``MockBrokerSockets``), so the
    /// dev cluster answers as promptly as real brokers do. Done again when a broker comes back
    /// up, in case the mock opened a new listener; that is best effort (a client may reconnect
    /// before it runs: one such connection was seen without TCP_NODELAY in CI), so connections
    /// made after fault injection may answer as slowly as the mock alone.
    private func disableNagle() {
        let ports = MockBrokerSockets.ports(of: bootstrapServers)
        let changed = MockBrokerSockets.disableNagle(onListenersAt: ports)
        if changed < ports.count {
            logger.warning(
                "Could not turn Nagle's algorithm off on every mock broker listener; responses may wait for delayed ACKs (about 40 ms)",
                metadata: ["kafka.listeners.found": "\(changed)", "kafka.brokers": "\(ports.count)"]
            )
        }
    }

    private func call(_ what: String, _ body: (OpaquePointer) -> rd_kafka_resp_err_t) throws {
        let error: rd_kafka_resp_err_t = try cluster.withLockedValue { cluster in
            guard let cluster else {
                throw KafkaError.shutDown(what)
            }
            return body(cluster.pointer)
        }
        if error != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(rdKafka: error, context: what)
        }
    }
}
