/// An error of the windowing stage, with a stable code and a message saying what to do.
public struct WindowingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code as text, e.g. `windowing.restore-failed`.
        public let rawValue: String
        init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }
        /// The changelog could not be read; the stage cannot restore its state.
        public static let restoreFailed = Code("windowing.restore-failed")
        /// Kafka refused an output or snapshot as too large; retrying cannot help.
        public static let recordTooLarge = Code("windowing.record-too-large")
    }

    /// The stable code.
    public let code: Code
    /// What happened and what to do.
    public let message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "WindowingError(\(code)): \(message)" }
}
