/// How urgent an alert is.
public enum Severity: String, Sendable, Hashable, Codable, CaseIterable {
    case info
    case warning
    case critical
}

/// What an alert rule watches.
public enum AlertCondition: Sendable, Hashable, Codable {
    /// The metric is greater than the threshold.
    case above(Double)
    /// The metric is less than the threshold.
    case below(Double)
    /// The metric rises faster than this many units per second between consecutive readings.
    case rateAbove(perSecond: Double)
    /// The metric changes by less than this many units per second (falls faster, when negative).
    case rateBelow(perSecond: Double)
    /// No reading from the device for this long (wall clock).
    case offline(TimeSpan)

    /// The threshold in the unit of the observed value (units, units per second, or seconds).
    public var threshold: Double {
        switch self {
        case .above(let t), .below(let t), .rateAbove(let t), .rateBelow(let t): t
        case .offline(let span): Double(span.milliseconds) / 1000
        }
    }

    /// Whether a larger value is worse (`above`, `rate_above`).
    var isUpward: Bool {
        switch self {
        case .above, .rateAbove: true
        default: false
        }
    }
}

/// One alert rule from the rules file.
public struct AlertRule: Sendable, Hashable, Codable {
    /// Unique name, `[A-Za-z0-9_.-]{1,64}`.
    public var name: String
    /// Glob on the device id: `*` matches any run of characters, `?` one character.
    public var devices: String
    /// The metric; `nil` for offline rules.
    public var metric: String?
    /// The condition.
    public var condition: AlertCondition
    /// How long the condition must hold (event time) before the alert activates. Default 0.
    public var holdFor: TimeSpan
    /// Hysteresis level, in the unit of the threshold: an `above` alert clears when the value is at
    /// or below it, a `below` alert when at or above it. Defaults to the threshold.
    public var clear: Double?
    /// Severity. Default `warning`.
    public var severity: Severity

    /// Creates a rule (validated by ``TelemetryConfiguration/parse(yaml:)`` when read from YAML).
    public init(
        name: String, devices: String = "*", metric: String?, condition: AlertCondition,
        holdFor: TimeSpan = .init(milliseconds: 0),
        clear: Double? = nil, severity: Severity = .warning
    ) {
        self.name = name
        self.devices = devices
        self.metric = metric
        self.condition = condition
        self.holdFor = holdFor
        self.clear = clear
        self.severity = severity
    }

    /// The level at which an active alert clears.
    public var clearLevel: Double { clear ?? condition.threshold }

    /// Whether the rule applies to `device`.
    public func matches(_ device: DeviceID) -> Bool {
        Glob.matches(pattern: devices, device.rawValue)
    }
}

/// `*` / `?` glob matching without recursion (greedy with one backtrack point).
public enum Glob {
    /// Whether `text` matches `pattern`.
    public static func matches(pattern: String, _ text: String) -> Bool {
        if pattern == "*" { return true }  // the common case, on every reading
        var pattern = pattern
        var text = text
        return pattern.withUTF8 { p in text.withUTF8 { t in matches(p, t) } }
    }

    private static func matches(_ p: UnsafeBufferPointer<UInt8>, _ t: UnsafeBufferPointer<UInt8>) -> Bool {
        var pi = 0
        var ti = 0
        var star = -1
        var mark = 0
        while ti < t.count {
            if pi < p.count, p[pi] == UInt8(ascii: "?") || p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi
                mark = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                ti = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
