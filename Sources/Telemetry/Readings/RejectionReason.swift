/// Why an input was rejected. The `rawValue` is the stable code written to the
/// `fluxgate-error` header of `fluxgate.deadletter` records; never rename a case's code.
public enum RejectionReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// The payload is not syntactically valid JSON (RFC 8259), has trailing bytes, or is not an object.
    case invalidJSON = "invalid-json"
    /// The payload contains bytes that are not valid UTF-8.
    case invalidUTF8 = "invalid-utf8"
    /// The payload is larger than the limit (64 KiB by default).
    case tooLarge = "too-large"
    /// Arrays and objects are nested deeper than the limit (512 by default).
    case tooDeep = "too-deep"
    /// The same key appears twice in the top-level object or in `metrics`.
    case duplicateKey = "duplicate-key"
    /// The payload has no `ts` field.
    case missingTimestamp = "missing-ts"
    /// `ts` is neither an integer of epoch milliseconds nor a valid RFC 3339 string, or is out of range.
    case badTimestamp = "bad-ts"
    /// `seq` is present but not an integer in 0...UInt64.max.
    case badSequence = "bad-seq"
    /// The payload has no `metrics` field, or `metrics` is an empty object.
    case missingMetrics = "missing-metrics"
    /// `metrics` is not an object, or a metric has a bad name or a value that is not a finite number.
    case badMetric = "bad-metric"
    /// `metrics` has more entries than the limit (64 by default).
    case tooManyMetrics = "too-many-metrics"
    /// The device id taken from the topic does not match `[A-Za-z0-9_-]{1,64}`.
    case badDeviceID = "bad-device-id"
    /// The MQTT topic is not `devices/{deviceId}/telemetry` or `devices/{deviceId}/status`.
    case badTopic = "bad-topic"
    /// A `devices/{deviceId}/status` payload is not `online` or `offline`.
    case badStatus = "bad-status"
    /// A normalized record (`fluxgate.readings`, `fluxgate.stats`, `fluxgate.alerts`) is malformed.
    case badRecord = "bad-record"
    /// A reading arrived after every window it belongs to had closed (windowing stage).
    case lateReading = "late-reading"
}

/// A rejected input: a stable ``reason`` code plus a human message that says what was wrong.
public struct ReadingRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stable reason code.
    public var reason: RejectionReason
    /// A human-readable explanation, naming the offending field where there is one.
    public var message: String

    /// Creates a rejection.
    public init(_ reason: RejectionReason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The stable code, e.g. `bad-metric`.
    public var code: String { reason.rawValue }

    public var description: String { "\(reason.rawValue): \(message)" }
}
