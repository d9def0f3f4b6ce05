/// The state an alert moved to.
public enum AlertState: String, Sendable, Hashable, Codable, CaseIterable {
    case active
    case cleared
    case acknowledged
}

/// One `fluxgate.alerts` record: an alert changed state.
///
/// JSON (keys in this order): `{"id","device","rule","metric","severity","state","value",
/// "threshold","ts","message"}`; `metric` is `null` for offline rules; `ts` is the event time of
/// the transition (epoch ms). `id` is the same for every transition of one activation and is
/// derived from device, rule and activation time only, so replays produce the same ids. The
/// optional `ackedBy` follows `message` when known.
public struct AlertTransition: Sendable, Hashable, Codable {
    /// Deterministic id of the activation (see ``alertID(device:rule:activatedAt:)``).
    public var id: String
    /// The device (also the Kafka key).
    public var device: DeviceID
    /// The rule's name.
    public var rule: String
    /// The rule's metric; `nil` for offline rules.
    public var metric: String?
    /// The rule's severity.
    public var severity: Severity
    /// The state the alert moved to.
    public var state: AlertState
    /// The observed value (metric units, units per second for rate rules, seconds for offline rules).
    public var value: Double
    /// The threshold crossed (`active`, `acknowledged`) or the clear level (`cleared`).
    public var threshold: Double
    /// Time of the transition, epoch ms: the reading's event time (`active`, `cleared`), the
    /// acknowledgement's time, or the offline activation time `lastArrival + offline`.
    public var ts: Int64
    /// A human-readable sentence.
    public var message: String
    /// Who acknowledged the alert (optional field `ackedBy`): set on `acknowledged` transitions and
    /// on the later `cleared` one when known; omitted from the JSON when `nil`.
    public var ackedBy: String?

    /// Creates a transition.
    public init(
        id: String, device: DeviceID, rule: String, metric: String?, severity: Severity, state: AlertState,
        value: Double,
        threshold: Double, ts: Int64, message: String, ackedBy: String? = nil
    ) {
        self.id = id
        self.device = device
        self.rule = rule
        self.metric = metric
        self.severity = severity
        self.state = state
        self.value = value
        self.threshold = threshold
        self.ts = ts
        self.message = message
        self.ackedBy = ackedBy
    }

    /// The deterministic alert id: 16 hex digits of FNV-1a 64 over `device`, `rule` and the
    /// activation time.
    public static func alertID(device: DeviceID, rule: String, activatedAt: Int64) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        for byte in device.rawValue.utf8 { mix(byte) }
        mix(0)
        for byte in rule.utf8 { mix(byte) }
        mix(0)
        for byte in String(activatedAt).utf8 { mix(byte) }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Encodes the record as JSON bytes (no Foundation).
    public func encoded() -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.field("id", id)
        w.field("device", device.rawValue)
        w.field("rule", rule)
        w.field("metric", metric)
        w.field("severity", severity.rawValue)
        w.field("state", state.rawValue)
        w.field("value", value)
        w.field("threshold", threshold)
        w.field("ts", ts)
        w.field("message", message)
        if let ackedBy { w.field("ackedBy", ackedBy) }
        w.endObject()
        return w.bytes
    }

    /// Decodes a record. Throws `bad-record` when malformed.
    public static func decode(_ bytes: [UInt8]) throws(ReadingRejection) -> AlertTransition {
        let fields = try bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) in try FlatJSONObject.parse(raw) }
        }.get()
        func bad(_ field: String) -> ReadingRejection {
            ReadingRejection(.badRecord, "alert record: field '\(field)' is missing or has the wrong type")
        }
        func string(_ key: String) throws(ReadingRejection) -> String {
            guard let v = fields[key]?.string else { throw bad(key) }
            return v
        }
        func number(_ key: String) throws(ReadingRejection) -> Double {
            guard let value = fields[key] else { throw bad(key) }
            if value == .null { return .nan }
            guard let d = value.double else { throw bad(key) }
            return d
        }
        guard let device = DeviceID(try string("device")) else { throw bad("device") }
        guard let severity = Severity(rawValue: try string("severity")) else { throw bad("severity") }
        guard let state = AlertState(rawValue: try string("state")) else { throw bad("state") }
        guard let ts = fields["ts"]?.int64 else { throw bad("ts") }
        let metric: String?
        switch fields["metric"] {
        case .string(let m): metric = m
        case .null, nil: metric = nil
        default: throw bad("metric")
        }
        return AlertTransition(
            id: try string("id"), device: device, rule: try string("rule"), metric: metric, severity: severity,
            state: state,
            value: try number("value"), threshold: try number("threshold"), ts: ts, message: try string("message"),
            ackedBy: fields["ackedBy"]?.string)
    }
}
