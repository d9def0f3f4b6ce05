/// One `fluxgate.stats` record: the statistics of one metric of one device in one window.
///
/// JSON (keys in this order): `{"device","metric","window","start","end","count","min","max",
/// "mean","stddev","last","p50","p95","p99","final"}`; `start`/`end` are epoch ms (`end`
/// exclusive); `stddev` is the population standard deviation; p50/p95/p99 come from a
/// ``QuantileSketch`` (within 1 % relative error); `final` is `true` once the window has closed
/// (earlier records of the same window are live updates). Non-finite numbers are written as `null`.
public struct WindowStats: Sendable, Hashable, Codable {
    /// The device (also the Kafka key).
    public var device: DeviceID
    /// The metric name.
    public var metric: String
    /// The window's name, e.g. `10s` or `1m/10s`.
    public var window: String
    /// Window start, epoch ms (inclusive).
    public var start: Int64
    /// Window end, epoch ms (exclusive).
    public var end: Int64
    /// Number of values.
    public var count: UInt64
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// Mean.
    public var mean: Double
    /// Population standard deviation.
    public var stddev: Double
    /// Value with the greatest event time.
    public var last: Double
    /// Median estimate (within 1 % relative error).
    public var p50: Double
    /// 95th percentile estimate (within 1 % relative error).
    public var p95: Double
    /// 99th percentile estimate (within 1 % relative error).
    public var p99: Double
    /// Whether the window has closed (no more readings will change it).
    public var final: Bool

    /// Creates a record.
    public init(
        device: DeviceID, metric: String, window: String, start: Int64, end: Int64, count: UInt64, min: Double,
        max: Double, mean: Double, stddev: Double, last: Double, p50: Double, p95: Double, p99: Double, final: Bool
    ) {
        self.device = device
        self.metric = metric
        self.window = window
        self.start = start
        self.end = end
        self.count = count
        self.min = min
        self.max = max
        self.mean = mean
        self.stddev = stddev
        self.last = last
        self.p50 = p50
        self.p95 = p95
        self.p99 = p99
        self.final = final
    }

    /// Builds a record from accumulated statistics.
    public init(
        device: DeviceID, metric: String, spec: WindowSpec, start: Int64, stats: StatsAccumulator, final: Bool
    ) {
        self.init(
            device: device, metric: metric, window: spec.name, start: start, end: start + spec.size,
            count: stats.count, min: stats.min, max: stats.max, mean: stats.mean, stddev: stats.standardDeviation,
            last: stats.last, p50: stats.sketch.quantile(0.5) ?? .nan, p95: stats.sketch.quantile(0.95) ?? .nan,
            p99: stats.sketch.quantile(0.99) ?? .nan, final: final)
    }

    /// Deterministic identity of the window: `device|metric|window|start`. Live updates and the
    /// final record of a window share it, so consumers keep the latest and recognise duplicates.
    public var key: String { "\(device.rawValue)|\(metric)|\(window)|\(start)" }

    /// Encodes the record as JSON bytes (no Foundation).
    public func encoded() -> [UInt8] {
        var w = JSONWriter(capacity: 256)
        w.beginObject()
        w.field("device", device.rawValue)
        w.field("metric", metric)
        w.field("window", window)
        w.field("start", start)
        w.field("end", end)
        w.field("count", UInt64?.some(count))
        w.field("min", min)
        w.field("max", max)
        w.field("mean", mean)
        w.field("stddev", stddev)
        w.field("last", last)
        w.field("p50", p50)
        w.field("p95", p95)
        w.field("p99", p99)
        w.field("final", final)
        w.endObject()
        return w.bytes
    }

    /// Decodes a record; `null` numbers come back as NaN. Throws `bad-record` when malformed.
    public static func decode(_ bytes: [UInt8]) throws(ReadingRejection) -> WindowStats {
        let fields = try bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) in try FlatJSONObject.parse(raw) }
        }.get()
        func bad(_ field: String) -> ReadingRejection {
            ReadingRejection(.badRecord, "stats record: field '\(field)' is missing or has the wrong type")
        }
        func number(_ key: String) throws(ReadingRejection) -> Double {
            guard let value = fields[key] else { throw bad(key) }
            if value == .null { return .nan }
            guard let d = value.double else { throw bad(key) }
            return d
        }
        func int(_ key: String) throws(ReadingRejection) -> Int64 {
            guard let v = fields[key]?.int64 else { throw bad(key) }
            return v
        }
        func string(_ key: String) throws(ReadingRejection) -> String {
            guard let v = fields[key]?.string else { throw bad(key) }
            return v
        }
        guard let device = DeviceID(try string("device")) else { throw bad("device") }
        let count = try int("count")
        guard count >= 0 else { throw bad("count") }
        var final = false
        if case .bool(let b) = fields["final"] { final = b }
        return WindowStats(
            device: device, metric: try string("metric"), window: try string("window"), start: try int("start"),
            end: try int("end"), count: UInt64(count), min: try number("min"), max: try number("max"),
            mean: try number("mean"), stddev: try number("stddev"), last: try number("last"),
            p50: (try? number("p50")) ?? .nan, p95: (try? number("p95")) ?? .nan, p99: (try? number("p99")) ?? .nan,
            final: final)
    }
}
