/// A fleet profile that cannot be used, with where the problem is and what to do about it.
///
/// `description` reads like `devices/demo.yaml:14: type 'greenhouse', metric 'temperature',
/// field 'noise.stddev': must be a number >= 0, got 'lots'`.
public struct ProfileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable reason codes.
    public struct Code: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file could not be read.
        public static let unreadable = Code(rawValue: "unreadable")
        /// The YAML itself is malformed.
        public static let yamlSyntax = Code(rawValue: "yaml-syntax")
        /// A field that the format does not know (often a typo).
        public static let unknownField = Code(rawValue: "unknown-field")
        /// A required field is absent.
        public static let missingField = Code(rawValue: "missing-field")
        /// A field has the wrong kind of value (a list where a number is expected, ...).
        public static let wrongType = Code(rawValue: "wrong-type")
        /// A number outside its allowed range.
        public static let outOfRange = Code(rawValue: "out-of-range")
        /// A type, device or metric name that breaks the naming rules.
        public static let invalidName = Code(rawValue: "invalid-name")
        /// An id pattern that cannot be used.
        public static let invalidPattern = Code(rawValue: "invalid-pattern")
        /// Two devices or two metrics with the same name.
        public static let duplicate = Code(rawValue: "duplicate")
        /// Fields that cannot be used together.
        public static let conflictingFields = Code(rawValue: "conflicting-fields")
    }

    /// The reason code.
    public var code: Code
    /// The profile file (as given), or `<memory>`.
    public var file: String
    /// 1-based line in the file, when known.
    public var line: Int?
    /// The device type the problem is in, when known.
    public var deviceType: String?
    /// The metric the problem is in, when known.
    public var metric: String?
    /// The field path inside the type or metric (`noise.stddev`), when known.
    public var field: String?
    /// What is wrong and what to do.
    public var message: String

    /// Creates an error.
    public init(
        code: Code,
        file: String,
        line: Int? = nil,
        deviceType: String? = nil,
        metric: String? = nil,
        field: String? = nil,
        message: String
    ) {
        self.code = code
        self.file = file
        self.line = line
        self.deviceType = deviceType
        self.metric = metric
        self.field = field
        self.message = message
    }

    public var description: String {
        var location = file
        if let line { location += ":\(line)" }
        var parts: [String] = []
        if let deviceType { parts.append("type '\(deviceType)'") }
        if let metric { parts.append("metric '\(metric)'") }
        if let field { parts.append("field '\(field)'") }
        let context = parts.isEmpty ? "" : " " + parts.joined(separator: ", ") + ":"
        return "\(location):\(context) \(message) [\(code)]"
    }
}
