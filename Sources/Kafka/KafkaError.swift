import CRdKafka

/// An error from the Kafka client, the brokers or the development cluster.
///
/// `code` is stable and safe to match on or to log as a metric label; `message` says what
/// happened and what to do about it.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code, such as `rdkafka.NOT_ENOUGH_REPLICAS` or `kafka.shut-down`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The stable string form of the code.
        public let rawValue: String

        /// Creates a code from its stable string form.
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// A configuration property was rejected.
        public static let configuration = Code("kafka.configuration")
        /// An argument was out of range or malformed.
        public static let invalidArgument = Code("kafka.invalid-argument")
        /// The client was shut down (or is shutting down) and cannot do this any more.
        public static let shutDown = Code("kafka.shut-down")
        /// The operation was cancelled by the caller's task.
        public static let cancelled = Code("kafka.cancelled")
        /// `run()` was called more than once.
        public static let alreadyRunning = Code("kafka.already-running")
        /// The development cluster could not be started.
        public static let clusterStart = Code("kafka.cluster-start")
        /// The partition is not assigned to this consumer.
        public static let notAssigned = Code("kafka.not-assigned")
        /// A record is larger than the producer's `message.max.bytes` or the topic's
        /// `max.message.bytes`: retrying cannot help.
        public static let messageSizeTooLarge = Code.rdkafka(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE)

        /// The code for a librdkafka error (`rdkafka.` + `rd_kafka_err2name`).
        static func rdkafka(_ error: rd_kafka_resp_err_t) -> Code {
            Code("rdkafka." + String(cString: rd_kafka_err2name(error)))
        }
    }

    /// The stable code.
    public let code: Code
    /// What happened and what to do about it.
    public let message: String
    /// The client cannot continue: recreate it.
    public let isFatal: Bool
    /// Trying the same operation again later can succeed.
    public let isRetriable: Bool
    /// The librdkafka error number (`rd_kafka_resp_err_t`), when the error came from librdkafka.
    public let rdKafkaCode: Int32?

    /// Creates an error.
    public init(code: Code, message: String, isFatal: Bool = false, isRetriable: Bool = false) {
        self.code = code
        self.message = message
        self.isFatal = isFatal
        self.isRetriable = isRetriable
        self.rdKafkaCode = nil
    }

    init(rdKafka error: rd_kafka_resp_err_t, context: String, detail: String? = nil) {
        self.code = .rdkafka(error)
        let reason = detail ?? String(cString: rd_kafka_err2str(error))
        let advice = Self.isRetriable(error)
            ? "This is transient: the client retries internally; if it persists, check that the brokers are up and reachable."
            : "Check the request and the broker configuration."
        self.message = "\(context): \(reason) (\(String(cString: rd_kafka_err2name(error)))). \(advice)"
        self.isFatal = error == RD_KAFKA_RESP_ERR__FATAL
        self.isRetriable = Self.isRetriable(error)
        self.rdKafkaCode = error.rawValue
    }

    public var description: String { "KafkaError(\(code)): \(message)" }

    static func isRetriable(_ error: rd_kafka_resp_err_t) -> Bool {
        switch error {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
            RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
            RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
            return true
        default:
            return false
        }
    }

    static func shutDown(_ what: String) -> KafkaError {
        KafkaError(
            code: .shutDown,
            message: "\(what): the client is shut down. Create a new client, and keep its run() going while you use it."
        )
    }

    static func cancelled(_ what: String) -> KafkaError {
        KafkaError(code: .cancelled, message: "\(what): the calling task was cancelled.")
    }
}
