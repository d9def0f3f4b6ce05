/// A configuration value that cannot be used, with what to do about it.
///
/// The description names the setting, where the bad value came from (flag, environment
/// variable or file) and what a valid value looks like, so that start-up stops with a message a
/// user can act on instead of a stack trace.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A stable code for programs and tests.
    public enum Code: String, Sendable {
        /// A value that does not parse or is out of range.
        case invalidValue = "invalid-value"
        /// A key in the configuration file that no setting has.
        case unknownKey = "unknown-key"
        /// The configuration file is missing, unreadable or not YAML of the expected shape.
        case unreadableFile = "unreadable-file"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
