/// Running statistics of one metric in one window: count, min, max, mean and standard deviation
/// (Welford's algorithm, merged with Chan et al.'s formula), the last value by event time, and a
/// ``QuantileSketch`` for p50/p95/p99. Mergeable and `Codable` for snapshots.
public struct StatsAccumulator: Sendable, Hashable, Codable {
    /// Number of values.
    public private(set) var count: UInt64 = 0
    /// Running mean.
    public private(set) var mean = 0.0
    /// Sum of squared deviations from the mean.
    public private(set) var m2 = 0.0
    /// Smallest value.
    public private(set) var min = Double.infinity
    /// Largest value.
    public private(set) var max = -Double.infinity
    /// The value with the greatest event time (on ties, the one added last).
    public private(set) var last = Double.nan
    /// Event time of ``last``.
    public private(set) var lastTs = Int64.min
    /// Quantile sketch.
    public private(set) var sketch = QuantileSketch()

    /// Empty statistics.
    public init() {}

    /// Statistics as stored (``WindowAggregator/restoreState(of:from:)``).
    init(
        count: UInt64, mean: Double, m2: Double, min: Double, max: Double, last: Double, lastTs: Int64,
        sketch: QuantileSketch
    ) {
        self.count = count
        self.mean = mean
        self.m2 = m2
        self.min = min
        self.max = max
        self.last = last
        self.lastTs = lastTs
        self.sketch = sketch
    }

    /// Adds a value observed at event time `ts`.
    public mutating func add(_ value: Double, ts: Int64) {
        count += 1
        let delta = value - mean
        mean += delta / Double(count)
        m2 += delta * (value - mean)
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        if ts >= lastTs {
            lastTs = ts
            last = value
        }
        sketch.add(value)
    }

    /// Merges statistics of disjoint values (`other` counts as added after `self` for ties of `last`).
    public mutating func merge(_ other: StatsAccumulator) {
        guard other.count > 0 else { return }
        guard count > 0 else {
            self = other
            return
        }
        let n1 = Double(count)
        let n2 = Double(other.count)
        let n = n1 + n2
        let delta = other.mean - mean
        mean += delta * n2 / n
        m2 += other.m2 + delta * delta * n1 * n2 / n
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        if other.lastTs >= lastTs {
            lastTs = other.lastTs
            last = other.last
        }
        sketch.merge(other.sketch)
    }

    /// Population variance (0 for a single value).
    public var variance: Double { count > 0 ? Swift.max(0, m2 / Double(count)) : 0 }

    /// Population standard deviation.
    public var standardDeviation: Double { variance.squareRoot() }
}
