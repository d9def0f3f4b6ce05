import Foundation
import Testing

@testable import Telemetry

@Suite struct StatisticsTests {
    static func exactQuantile(_ sorted: [Double], _ q: Double) -> Double {
        sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
    }

    static func withinBound(_ estimate: Double, _ exact: Double) -> Bool {
        abs(estimate - exact) <= QuantileSketch.relativeAccuracy * abs(exact) * (1 + 1e-12)
            + QuantileSketch.minIndexable
    }

    @Test(arguments: [1, 2, 3, 10, 101, 1000, 20_000])
    func sketchQuantilesAreWithinTheRelativeBound(n: Int) {
        var rng = SeededGenerator(seed: UInt64(n))
        for distribution in 0..<4 {
            var sketch = QuantileSketch()
            var values: [Double] = []
            for _ in 0..<n {
                let v: Double =
                    switch distribution {
                    case 0: Double.random(in: -40...60, using: &rng)
                    case 1: exp(Double.random(in: -20...20, using: &rng))  // wide dynamic range
                    case 2: Double(Int.random(in: -3...3, using: &rng))  // ties and zeros
                    default: -exp(Double.random(in: 0...10, using: &rng))
                    }
                values.append(v)
                sketch.add(v)
            }
            values.sort()
            for q in [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1] {
                let estimate = sketch.quantile(q)!
                let exact = Self.exactQuantile(values, q)
                #expect(
                    Self.withinBound(estimate, exact), "n=\(n) dist=\(distribution) q=\(q): \(estimate) vs \(exact)")
            }
        }
    }

    @Test func mergedSketchesKeepTheBound() {
        var rng = SeededGenerator(seed: 5)
        var parts = [QuantileSketch](repeating: QuantileSketch(), count: 5)
        var all: [Double] = []
        for _ in 0..<5000 {
            let v = Double.random(in: 0.001...1000, using: &rng) * (Bool.random(using: &rng) ? 1 : -1)
            all.append(v)
            parts[Int.random(in: 0..<5, using: &rng)].add(v)
        }
        var merged = QuantileSketch()
        for part in parts { merged.merge(part) }
        all.sort()
        #expect(merged.count == 5000)
        for q in stride(from: 0.0, through: 1.0, by: 0.05) {
            #expect(Self.withinBound(merged.quantile(q)!, Self.exactQuantile(all, q)))
        }
    }

    @Test func sketchBucketsStayBounded() {
        var sketch = QuantileSketch()
        for e in stride(from: -300.0, through: 300.0, by: 0.5) { sketch.add(pow(10, e)) }
        #expect(sketch.positive.counts.count <= QuantileSketch.maxBuckets)
        // The high quantiles keep the bound even after collapsing.
        #expect(Self.withinBound(sketch.quantile(1)!, 1e300))
        #expect(Self.withinBound(sketch.quantile(0.99)!, pow(10, -300 + 0.5 * Double(Int(0.99 * 1200)))))
        #expect(QuantileSketch().quantile(0.5) == nil)
    }

    @Test func welfordMatchesTwoPassAndMerges() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            let n = Int.random(in: 1...300, using: &rng)
            let offset = [0.0, 1e6, 1e9, -273.15].randomElement(using: &rng)!
            let values = (0..<n).map { _ in offset + Double.random(in: -5...5, using: &rng) }
            var whole = StatsAccumulator()
            var left = StatsAccumulator()
            var right = StatsAccumulator()
            let cut = Int.random(in: 0...n, using: &rng)
            for (i, v) in values.enumerated() {
                whole.add(v, ts: Int64(i))
                if i < cut { left.add(v, ts: Int64(i)) } else { right.add(v, ts: Int64(i)) }
            }
            left.merge(right)
            let mean = values.reduce(0, +) / Double(n)
            let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
            for stats in [whole, left] {
                #expect(stats.count == UInt64(n))
                #expect(abs(stats.mean - mean) <= 1e-9 * max(1, abs(mean)))
                #expect(abs(stats.standardDeviation - variance.squareRoot()) <= 1e-6)
                #expect(stats.min == values.min())
                #expect(stats.max == values.max())
                #expect(stats.last == values.last)
            }
        }
    }

    @Test func lastFollowsEventTimeNotArrival() {
        var stats = StatsAccumulator()
        stats.add(1, ts: 100)
        stats.add(2, ts: 50)
        stats.add(3, ts: 100)
        #expect(stats.last == 3)
        #expect(stats.lastTs == 100)
    }
}
