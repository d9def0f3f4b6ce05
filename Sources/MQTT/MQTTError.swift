/// An error from the MQTT client: a stable `code`, a `message` that says what to do, and the
/// libmosquitto error or MQTT reason code behind it when there is one.
public struct MQTTError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable identifier of an error kind; compare against the static members.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// A configuration value is out of range or malformed; fix the configuration.
        public static let invalidConfiguration = Code(rawValue: "invalid-configuration")
        /// An argument (topic, filter, payload) was rejected before sending.
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        /// The broker refused the connection (bad credentials, not authorised, unsupported protocol).
        public static let connectionRefused = Code(rawValue: "connection-refused")
        /// The connection dropped before a QoS 0 message or a request was sent; retry it.
        public static let connectionLost = Code(rawValue: "connection-lost")
        /// The broker rejected a publication (reason code >= 0x80).
        public static let publishRejected = Code(rawValue: "publish-rejected")
        /// The broker rejected a subscription (reason code >= 0x80), e.g. a bad shared-subscription filter.
        public static let subscribeRejected = Code(rawValue: "subscribe-rejected")
        /// The broker rejected an unsubscription.
        public static let unsubscribeRejected = Code(rawValue: "unsubscribe-rejected")
        /// The client is shutting down or has stopped; the request was not (or not surely) carried out.
        public static let shutDown = Code(rawValue: "shut-down")
        /// The waiting task was cancelled; the request may still be carried out.
        public static let cancelled = Code(rawValue: "cancelled")
        /// `run()` was called twice; a client runs once.
        public static let alreadyRunning = Code(rawValue: "already-running")
        /// libmosquitto reported an error; see `mosquittoError`.
        public static let library = Code(rawValue: "library")
    }

    /// The kind of error.
    public let code: Code
    /// What went wrong and what to do about it.
    public let message: String
    /// The libmosquitto `mosq_err_t` value, when the error comes from libmosquitto.
    public let mosquittoError: Int32?
    /// The MQTT reason code (CONNACK, PUBACK, SUBACK...), when the broker sent one.
    public let reasonCode: Int?

    public init(code: Code, message: String, mosquittoError: Int32? = nil, reasonCode: Int? = nil) {
        self.code = code
        self.message = message
        self.mosquittoError = mosquittoError
        self.reasonCode = reasonCode
    }

    public var description: String {
        var text = "MQTTError(\(code)): \(message)"
        if let mosquittoError { text += " [mosquitto error \(mosquittoError)]" }
        if let reasonCode { text += " [reason code 0x\(String(reasonCode, radix: 16))]" }
        return text
    }

    static func invalidConfiguration(_ message: String) -> MQTTError {
        MQTTError(code: .invalidConfiguration, message: message)
    }

    static let shutDownError = MQTTError(
        code: .shutDown,
        message: "the MQTT client is shutting down or has stopped; create a new client to continue"
    )

    static let cancelledError = MQTTError(
        code: .cancelled,
        message: "the waiting task was cancelled; the request may still be carried out"
    )
}
