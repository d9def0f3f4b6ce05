/// An event-time window shape: tumbling (`hop == size`) or hopping (`hop < size`), aligned to the
/// Unix epoch, so window `[start, start + size)` has `start` a multiple of `hop`.
public struct WindowSpec: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Window length in milliseconds.
    public var size: Int64
    /// Distance between consecutive window starts in milliseconds (`size` for tumbling windows).
    public var hop: Int64

    /// The most windows one reading may belong to (`size / hop`).
    public static let maxOverlap: Int64 = 60

    /// A tumbling window of `size`.
    public static func tumbling(_ size: TimeSpan) -> WindowSpec {
        let size = max(1, size.milliseconds)
        return WindowSpec(unchecked: size, hop: size)
    }

    init(unchecked size: Int64, hop: Int64) {
        self.size = size
        self.hop = hop
    }

    /// Validates a window: `0 < hop <= size`, `size` a multiple of `hop`, at most ``maxOverlap`` overlapping.
    public init(size: TimeSpan, hop: TimeSpan? = nil) throws(ConfigurationError) {
        let hop = hop ?? size
        guard size.milliseconds > 0, hop.milliseconds > 0 else {
            throw ConfigurationError(
                field: "windows", "a window size and hop must be positive; write e.g. 10s or 1m/10s")
        }
        guard hop <= size, size.milliseconds % hop.milliseconds == 0,
            size.milliseconds / hop.milliseconds <= Self.maxOverlap
        else {
            throw ConfigurationError(
                field: "windows",
                "window \(size)/\(hop): the hop must divide the size, be at most the size, and give at most \(Self.maxOverlap) overlapping windows"
            )
        }
        self.size = size.milliseconds
        self.hop = hop.milliseconds
    }

    /// Parses `10s` (tumbling) or `1m/10s` (size/hop, hopping).
    public init(parsing text: String) throws(ConfigurationError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let size = TimeSpan(parsing: String(parts[0])),
            parts.count == 1 || TimeSpan(parsing: String(parts[1])) != nil
        else {
            throw ConfigurationError(
                field: "windows", "'\(text)' is not a window; write e.g. 10s (tumbling) or 1m/10s (size/hop)")
        }
        try self.init(size: size, hop: parts.count == 2 ? TimeSpan(parsing: String(parts[1])) : nil)
    }

    /// Whether windows do not overlap.
    public var isTumbling: Bool { hop == size }

    /// The `window` field of `fluxgate.stats`: `10s`, or `1m/10s` for hopping windows.
    public var name: String {
        isTumbling
            ? TimeSpan(milliseconds: size).description
            : "\(TimeSpan(milliseconds: size))/\(TimeSpan(milliseconds: hop))"
    }

    public var description: String { name }

    /// The starts of the windows containing `ts`, oldest first.
    public func starts(containing ts: Int64) -> StrideThrough<Int64> {
        guard hop > 0, size >= hop else { return stride(from: 0, through: -1, by: 1) }
        let last = Self.floorDiv(ts, hop) * hop
        let first = last - size + hop
        return stride(from: first, through: last, by: Int(hop))
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}

/// A configuration problem, naming the field (and rule) and saying what to write instead.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable code: always `invalid-config`.
    public var code: String { "invalid-config" }
    /// The rule's name, when the problem is in a rule.
    public var rule: String?
    /// The field, e.g. `above` or `windows`.
    public var field: String
    /// What is wrong and what to write instead.
    public var message: String
    /// 1-based line in the YAML source, when known.
    public var line: Int?

    /// Creates an error.
    public init(rule: String? = nil, field: String, _ message: String, line: Int? = nil) {
        self.rule = rule
        self.field = field
        self.message = message
        self.line = line
    }

    public var description: String {
        var text = ""
        if let line { text += "line \(line): " }
        if let rule { text += "rule '\(rule)': " }
        return text + "field '\(field)': \(message)"
    }
}
