/// An error of the hub stage: a stable `code` and a message that says what to do.
public struct HubError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable error codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// A setting is invalid.
        public static let configuration = Code("hub.configuration")
        /// Kafka could not be reached or has no topics to read.
        public static let kafka = Code("hub.kafka")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
