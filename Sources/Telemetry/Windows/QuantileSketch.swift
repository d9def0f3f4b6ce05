import Foundation

/// A mergeable quantile sketch with bounded relative error (DDSketch, Masson et al., VLDB 2019).
///
/// Values are counted in logarithmic buckets `(γ^(i-1), γ^i]` with `γ = (1 + α) / (1 - α)`, and a
/// bucket is reported as `2γ^i / (γ + 1)`. For every quantile `q` the estimate `v` satisfies
/// `|v - x| <= α·|x|` where `x` is the exact element of rank `⌊q·(n-1)⌋` (0-based), with
/// `α = 0.01` (1 %). Values with `|x| < 1e-9` count as 0 (absolute error below 1e-9). Each sign
/// keeps at most ``maxBuckets`` buckets (a dynamic range of about 10^17 at α = 1 %); beyond that
/// the buckets nearest zero are merged, which loosens the bound only for those smallest magnitudes.
/// Estimates are clamped to the exact minimum and maximum.
public struct QuantileSketch: Sendable, Hashable, Codable {
    /// The relative accuracy α.
    public static let relativeAccuracy = 0.01
    /// Buckets kept per sign.
    public static let maxBuckets = 2048
    /// Magnitudes below this count as zero.
    public static let minIndexable = 1e-9

    static let gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    static let logGamma = log(gamma)

    /// Dense counts for indices `offset ..< offset + counts.count`.
    struct Store: Sendable, Hashable, Codable {
        var offset: Int = 0
        var counts: [UInt64] = []

        mutating func add(_ index: Int, _ n: UInt64 = 1) {
            if counts.isEmpty {
                offset = index
                // Room for the neighbouring buckets most streams reach (growing one at a time
                // reallocated several times per window and metric).
                counts.reserveCapacity(16)
                counts.append(n)
                return
            }
            if index < offset {
                let grow = offset - index
                if counts.count + grow > QuantileSketch.maxBuckets {
                    // Too wide: fold the new low value into the lowest kept bucket.
                    let keep = QuantileSketch.maxBuckets - counts.count
                    if keep > 0 {
                        counts.insert(contentsOf: repeatElement(0, count: keep), at: 0)
                        offset -= keep
                    }
                    counts[0] += n
                    return
                }
                counts.insert(contentsOf: repeatElement(0, count: grow), at: 0)
                offset = index
            } else if index >= offset + counts.count {
                let grow = index - offset - counts.count + 1
                counts.append(contentsOf: repeatElement(0, count: grow))
                if counts.count > QuantileSketch.maxBuckets {
                    // Merge the lowest buckets so the highest values stay exact to α.
                    let excess = counts.count - QuantileSketch.maxBuckets
                    let folded = counts[0...excess].reduce(0, +)
                    counts.removeFirst(excess)
                    counts[0] = folded
                    offset += excess
                }
            }
            counts[index - offset] += n
        }

        mutating func merge(_ other: Store) {
            for (k, c) in other.counts.enumerated() where c > 0 { add(other.offset + k, c) }
        }
    }

    var positive = Store()
    var negative = Store()
    /// Number of values that counted as zero.
    public private(set) var zeroCount: UInt64 = 0
    /// Number of values added.
    public private(set) var count: UInt64 = 0
    /// Exact minimum (`+infinity` when empty).
    public private(set) var min = Double.infinity
    /// Exact maximum (`-infinity` when empty).
    public private(set) var max = -Double.infinity

    /// An empty sketch.
    public init() {}

    /// A sketch as stored (``WindowAggregator/restoreState(of:from:)``).
    init(positive: Store, negative: Store, zeroCount: UInt64, count: UInt64, min: Double, max: Double) {
        self.positive = positive
        self.negative = negative
        self.zeroCount = zeroCount
        self.count = count
        self.min = min
        self.max = max
    }

    static func index(_ magnitude: Double) -> Int {
        Int((log(magnitude) / logGamma).rounded(.up))
    }

    static func value(_ index: Int) -> Double {
        2 * pow(gamma, Double(index)) / (gamma + 1)
    }

    /// Adds a finite value (non-finite values are ignored).
    public mutating func add(_ value: Double) {
        guard value.isFinite else { return }
        count += 1
        min = Swift.min(min, value)
        max = Swift.max(max, value)
        if abs(value) < Self.minIndexable {
            zeroCount += 1
        } else if value > 0 {
            positive.add(Self.index(value))
        } else {
            negative.add(Self.index(-value))
        }
    }

    /// Merges another sketch into this one.
    public mutating func merge(_ other: QuantileSketch) {
        guard other.count > 0 else { return }
        positive.merge(other.positive)
        negative.merge(other.negative)
        zeroCount += other.zeroCount
        count += other.count
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The estimated `q`-quantile (`0 <= q <= 1`), or `nil` when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let q = Swift.min(Swift.max(q, 0), 1)
        let rank = UInt64((q * Double(count - 1)).rounded(.down))
        var seen: UInt64 = 0
        var estimate = 0.0
        var found = false
        // Most negative first: negative buckets from the highest magnitude down.
        for k in stride(from: negative.counts.count - 1, through: 0, by: -1) where negative.counts[k] > 0 {
            seen += negative.counts[k]
            if seen > rank {
                estimate = -Self.value(negative.offset + k)
                found = true
                break
            }
        }
        if !found {
            seen += zeroCount
            if seen > rank {
                estimate = 0
                found = true
            }
        }
        if !found {
            for k in 0..<positive.counts.count where positive.counts[k] > 0 {
                seen += positive.counts[k]
                if seen > rank {
                    estimate = Self.value(positive.offset + k)
                    found = true
                    break
                }
            }
        }
        if !found { estimate = max }
        return Swift.min(Swift.max(estimate, min), max)
    }
}
