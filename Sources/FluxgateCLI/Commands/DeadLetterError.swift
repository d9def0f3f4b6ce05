/// A failure of `fluxgate deadletter`: a stable code and a message that says what to do.
struct DeadLetterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A stable code for programs and tests.
    enum Code: String, Sendable {
        /// A selection flag has a bad value or replay was given no selection.
        case invalidSelection = "invalid-selection"
        /// The dead-letter topic does not exist.
        case topicNotFound = "topic-not-found"
        /// Kafka could not be reached or refused a request.
        case kafka = "kafka"
        /// Reading or replaying did not finish in time.
        case timeout = "timeout"
        /// More dead letters match than `--max-records` allows.
        case tooManyRecords = "too-many-records"
        /// The MQTT broker refused or lost publications.
        case publishFailed = "publish-failed"
    }

    var code: Code
    var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    var description: String { message }
}
