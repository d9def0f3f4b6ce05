/// One named measurement of a reading.
public struct Metric: Sendable, Hashable, Codable {
    /// The metric name, matching `[A-Za-z0-9_.-]{1,64}`.
    public var name: String
    /// The value; always finite.
    public var value: Double

    /// Creates a metric (no validation; use ``Metric/isValidName(_:)`` for untrusted names).
    public init(_ name: String, _ value: Double) {
        self.name = name
        self.value = value
    }

    /// The longest accepted metric name, in bytes.
    public static let maxNameLength = 64

    /// Whether `name` matches `[A-Za-z0-9_.-]{1,64}`.
    public static func isValidName(_ name: some StringProtocol) -> Bool {
        isValidName(bytes: name.utf8)
    }

    static func isValidName(bytes: some Collection<UInt8>) -> Bool {
        let count = bytes.count
        guard count >= 1, count <= maxNameLength else { return false }
        for byte in bytes where !(DeviceID.isIDByte(byte) || byte == UInt8(ascii: ".")) { return false }
        return true
    }
}

/// A validated device reading, as landed in `fluxgate.readings`.
public struct Reading: Sendable, Hashable, Codable {
    /// The device, taken from the MQTT topic.
    public var device: DeviceID
    /// Event time: epoch milliseconds (UTC).
    public var ts: Int64
    /// The device's optional counter.
    public var seq: UInt64?
    /// The metrics in payload order; 1...64 entries, unique names, finite values.
    public var metrics: [Metric]

    /// Creates a reading.
    public init(device: DeviceID, ts: Int64, seq: UInt64? = nil, metrics: [Metric]) {
        self.device = device
        self.ts = ts
        self.seq = seq
        self.metrics = metrics
    }

    /// The value of metric `name`, if present.
    public func value(of name: String) -> Double? {
        metrics.first { $0.name == name }?.value
    }
}

/// Limits on an ingress payload, with the contract's defaults.
public struct ReadingLimits: Sendable, Hashable {
    /// Largest payload in bytes. Default 64 KiB (65 536).
    public var maxPayloadBytes: Int = 65_536
    /// Deepest nesting of objects and arrays, the top-level object counting as 1. Default 512.
    public var maxDepth: Int = 512
    /// Most metrics per reading. Default 64.
    public var maxMetrics: Int = 64
    /// Smallest accepted `ts`: 0 (1970-01-01T00:00:00Z).
    public var minTimestamp: Int64 = 0
    /// Largest accepted `ts`: 9999-12-31T23:59:59.999Z.
    public var maxTimestamp: Int64 = 253_402_300_799_999

    /// The contract's defaults.
    public init() {}

    /// The contract's defaults.
    public static let standard = ReadingLimits()
}
