/// An error from a test fixture: a stable code and a message that says what to do.
public struct FixtureError: Error, Sendable, CustomStringConvertible {
    /// Stable identifier of the failure, e.g. `mosquitto-not-installed`.
    public let code: String
    /// What went wrong and what to do about it.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
