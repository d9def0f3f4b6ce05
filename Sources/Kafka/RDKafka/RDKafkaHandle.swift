import CRdKafka
import Logging

/// What librdkafka's callbacks need, passed as the configuration opaque
/// (`rd_kafka_conf_set_opaque`, read back with `rd_kafka_opaque`).
///
/// Ownership: ``RDKafkaHandle`` holds the context strongly and calls `rd_kafka_destroy` (after
/// which no callback runs) before it releases the context, so callbacks take it unretained.
final class RDKafkaContext: Sendable {
    let logger: Logger
    /// Called on the consumer's poll thread from inside `rd_kafka_consumer_poll`.
    let rebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    init(
        logger: Logger,
        rebalance: (@Sendable (OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)? = nil
    ) {
        self.logger = logger
        self.rebalance = rebalance
    }

    static func from(_ handle: OpaquePointer?) -> RDKafkaContext? {
        guard let handle, let opaque = rd_kafka_opaque(handle) else { return nil }
        return Unmanaged<RDKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
    }
}

/// An `rd_kafka_t` with its configuration and callback context; destroyed on deinit.
final class RDKafkaHandle: @unchecked Sendable {
    /// The `rd_kafka_t *`. Thread-safe per librdkafka's documentation.
    let pointer: OpaquePointer
    let context: RDKafkaContext

    /// Creates a client of `type` with `properties`.
    ///
    /// - Parameter configure: last-minute changes to the `rd_kafka_conf_t` (callbacks).
    init(
        type: rd_kafka_type_t,
        properties: [String: String],
        context: RDKafkaContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .configuration, message: "librdkafka could not allocate a configuration.")
        }
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            if result != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                let reason = String(cBuffer: errorText)
                throw KafkaError(
                    code: .configuration,
                    message: "Kafka property \(key)=\(value) was rejected: \(reason). Fix or remove it (see librdkafka CONFIGURATION.md)."
                )
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
            RDKafkaContext.from(handle)?.log(level: level, facility: facility, text: text)
        }
        rd_kafka_conf_set_error_cb(conf) { handle, error, reason, _ in
            RDKafkaContext.from(handle)?.reportError(handle: handle, error: rd_kafka_resp_err_t(error), reason: reason)
        }
        configure(conf)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            let reason = String(cBuffer: errorText)
            throw KafkaError(code: .configuration, message: "librdkafka could not create a client: \(reason).")
        }
        self.pointer = handle
        self.context = context
    }

    deinit {
        rd_kafka_destroy(pointer)
        // `context` is released after this, once no callback can run any more.
    }

    /// The fatal error raised on this handle, if any.
    func fatalError() -> KafkaError? {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(pointer, &text, text.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(rdKafka: code, context: "Fatal client error", detail: String(cBuffer: text))
    }
}

extension RDKafkaContext {
    /// Routes a librdkafka log line (syslog level) to swift-log.
    func log(level: Int32, facility: UnsafePointer<CChar>?, text: UnsafePointer<CChar>?) {
        let swiftLevel: Logger.Level
        switch level {
        case ...2: swiftLevel = .critical
        case 3: swiftLevel = .error
        case 4: swiftLevel = .warning
        case 5: swiftLevel = .notice
        case 6: swiftLevel = .info
        default: swiftLevel = .debug
        }
        guard logger.logLevel <= swiftLevel else { return }
        let facility = facility.map { String(cString: $0) } ?? "?"
        let text = text.map { String(cString: $0) } ?? ""
        logger.log(level: swiftLevel, "\(text)", metadata: ["rdkafka.facility": "\(facility)"])
    }

    /// Routes an error event (`error_cb`) to swift-log; they are informational unless fatal.
    func reportError(handle: OpaquePointer?, error: rd_kafka_resp_err_t, reason: UnsafePointer<CChar>?) {
        let reasonText = reason.map { String(cString: $0) } ?? ""
        let kafkaError = KafkaError(rdKafka: error, context: "Kafka client error", detail: reasonText)
        if kafkaError.isFatal {
            logger.error("\(kafkaError.message)", metadata: ["kafka.error": "\(kafkaError.code)"])
        } else {
            logger.warning("\(kafkaError.message)", metadata: ["kafka.error": "\(kafkaError.code)"])
        }
    }
}

extension String {
    /// The NUL-terminated text in a C character buffer.
    init(cBuffer: [CChar]) {
        self = String(decoding: cBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
