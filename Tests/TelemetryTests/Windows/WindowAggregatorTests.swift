import Foundation
import Testing

@testable import Telemetry

@Suite struct WindowAggregatorTests {
    @Test(
        arguments: [
            ("500ms", Int64(500)), ("10s", 10_000), ("1m", 60_000), ("1h", 3_600_000), ("1d", 86_400_000),
            ("1m30s", 90_000), ("2h1ms", 7_200_001), ("0s", 0),
        ] as [(String, Int64)])
    func parsesDurations(text: String, ms: Int64) {
        #expect(TimeSpan(parsing: text)?.milliseconds == ms)
        if ms > 0 { #expect(TimeSpan(parsing: TimeSpan(milliseconds: ms).description)?.milliseconds == ms) }
    }

    @Test(arguments: ["", "10", "s", "10 s", "-5s", "1.5s", "10sec", "1w", "5s ", "99999999999999d"])
    func rejectsBadDurations(text: String) {
        #expect(TimeSpan(parsing: text) == nil)
    }

    @Test func windowSpecs() throws {
        let hopping = try WindowSpec(parsing: "1m/10s")
        #expect(hopping.name == "1m/10s")
        #expect(Array(hopping.starts(containing: 65_000)) == [10_000, 20_000, 30_000, 40_000, 50_000, 60_000])
        #expect(Array(WindowSpec.tumbling(.seconds(10)).starts(containing: 9_999)) == [0])
        #expect(Array(WindowSpec.tumbling(.seconds(10)).starts(containing: 10_000)) == [10_000])
        for bad in ["10s/1m", "1m/7s", "0s", "x", "1h/1s", "1m/"] {
            #expect(throws: ConfigurationError.self) { try WindowSpec(parsing: bad) }
        }
    }

    @Test func tumblingWindowClosesWhenTheWatermarkPassesItsEnd() {
        let device = DeviceID("d")!
        var aggregator = WindowAggregator(
            configuration: WindowingConfiguration(windows: [.tumbling(.seconds(10))], allowedLateness: .seconds(2)))
        #expect(
            aggregator.ingest(Reading(device: device, ts: 1_000, metrics: [Metric("t", 1)]), arrivedAt: 0).closed
                .isEmpty)
        #expect(
            aggregator.ingest(Reading(device: device, ts: 9_000, metrics: [Metric("t", 3)]), arrivedAt: 0).closed
                .isEmpty)
        #expect(
            aggregator.ingest(Reading(device: device, ts: 11_999, metrics: [Metric("t", 10)]), arrivedAt: 0).closed
                .isEmpty)
        // Still within lateness: joins [0, 10s).
        let inLateness = aggregator.ingest(Reading(device: device, ts: 9_500, metrics: [Metric("t", 2)]), arrivedAt: 0)
        #expect(!inLateness.isLate)
        let closing = aggregator.ingest(Reading(device: device, ts: 12_000, metrics: [Metric("t", 11)]), arrivedAt: 0)
        #expect(closing.closed.count == 1)
        let stats = closing.closed[0]
        #expect(stats.start == 0 && stats.end == 10_000 && stats.window == "10s" && stats.final)
        #expect(stats.count == 3 && stats.min == 1 && stats.max == 3 && stats.mean == 2 && stats.last == 2)
        #expect(stats.key == "d|t|10s|0")
        let late = aggregator.ingest(Reading(device: device, ts: 500, metrics: [Metric("t", 99)]), arrivedAt: 0)
        #expect(late.isLate && late.isDropped && late.closed.isEmpty)
        #expect(late.rejection?.reason == .lateReading)
        #expect(closing.rejection == nil)
        #expect(aggregator.lateReadings == 1)
    }

    @Test func silentDevicesCloseByWallClock() {
        let device = DeviceID("quiet")!
        var aggregator = WindowAggregator(
            configuration: WindowingConfiguration(
                windows: [.tumbling(.seconds(10))], allowedLateness: .seconds(2), idleGrace: .seconds(1)))
        _ = aggregator.ingest(Reading(device: device, ts: 1_000_003_000, metrics: [Metric("t", 1)]), arrivedAt: 5_000)
        // Window [1_000_000_000, 1_000_010_000) closes once maxTs + silence - 3s >= end: silence >= 10s.
        #expect(aggregator.advance(now: 14_999).isEmpty)
        let closed = aggregator.advance(now: 15_000)
        #expect(closed.map(\.start) == [1_000_000_000])
        #expect(aggregator.advance(now: 100_000).isEmpty)
        // A reading for the closed window is now late.
        #expect(
            aggregator.ingest(Reading(device: device, ts: 1_000_004_000, metrics: [Metric("t", 1)]), arrivedAt: 100_001)
                .isDropped)
    }

    @Test func reconfigureKeepsRemainingWindowsAndClosesRemovedOnes() throws {
        let device = DeviceID("d")!
        var aggregator = WindowAggregator()  // 10s, 1m
        _ = aggregator.ingest(Reading(device: device, ts: 1_000, metrics: [Metric("a", 1)]), arrivedAt: 0)
        let closed = aggregator.reconfigure(
            WindowingConfiguration(windows: [.tumbling(.minutes(1)), try WindowSpec(parsing: "5m/1m")]))
        #expect(closed.map(\.window) == ["10s"] && closed.allSatisfy(\.final))
        _ = aggregator.ingest(Reading(device: device, ts: 2_000, metrics: [Metric("a", 3)]), arrivedAt: 0)
        let remaining = aggregator.closeAll()
        #expect(remaining.map(\.window) == ["1m", "5m/1m", "5m/1m", "5m/1m", "5m/1m", "5m/1m"])
        #expect(remaining.first?.count == 2 && remaining[1].count == 1)
    }

    @Test func openStatisticsAreLiveUpdates() {
        let device = DeviceID("d")!
        var aggregator = WindowAggregator()
        _ = aggregator.ingest(
            Reading(device: device, ts: 1_000, metrics: [Metric("b", 1), Metric("a", 2)]), arrivedAt: 0)
        let live = aggregator.openStatistics(device: device)
        #expect(live.map { "\($0.window) \($0.metric)" } == ["10s a", "10s b", "1m a", "1m b"])
        #expect(live.allSatisfy { !$0.final })
    }

    @Test func statsRecordsRoundTripAsJSON() throws {
        var stats = StatsAccumulator()
        for v in [1.5, 2.5, -3.0] { stats.add(v, ts: 7) }
        let record = WindowStats(
            device: DeviceID("d1")!, metric: "temperature", spec: .tumbling(.seconds(10)), start: 1_764_400_000_000,
            stats: stats, final: true)
        let bytes = record.encoded()
        let back = try WindowStats.decode(bytes)
        #expect(back == record)
        let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
        #expect(object?["window"] as? String == "10s")
        #expect(Array((object ?? [:]).keys).count == 15)
        var single = StatsAccumulator()
        single.add(4, ts: 1)
        let one = WindowStats(
            device: DeviceID("d1")!, metric: "m", spec: .tumbling(.seconds(1)), start: 0, stats: single, final: false)
        #expect(
            String(decoding: one.encoded(), as: UTF8.self)
                == #"{"device":"d1","metric":"m","window":"1s","start":0,"end":1000,"count":1,"min":4.0,"max":4.0,"mean":4.0,"stddev":0.0,"last":4.0,"p50":4.0,"p95":4.0,"p99":4.0,"final":false}"#
        )
        #expect(throws: ReadingRejection.self) { try WindowStats.decode(Array(#"{"device":"d1"}"#.utf8)) }
    }

    // MARK: Property test against a naive recomputation

    struct Input {
        var reading: Reading
        var arrival: Int64
    }

    static func randomInputs(_ rng: inout SeededGenerator, devices: [DeviceID]) -> [Input] {
        var clock: [DeviceID: Int64] = [:]
        var inputs: [Input] = []
        var arrival: Int64 = 0
        for _ in 0..<Int.random(in: 50...400, using: &rng) {
            let device = devices.randomElement(using: &rng)!
            var now = clock[device, default: Int64.random(in: 0...80, using: &rng) * 250]
            now += Int64.random(in: 0...6, using: &rng) * 250  // a coarse grid hits window edges exactly
            clock[device] = now
            var ts = now
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: ts -= Int64.random(in: 0...120, using: &rng) * 250  // very late
            case 1, 2: ts -= Int64.random(in: 0...12, using: &rng) * 250  // out of order, often within lateness
            default: break
            }
            ts = max(ts, 0)
            arrival += Int64.random(in: 0...50, using: &rng)
            var metrics: [Metric] = []
            for name in ["a", "b", "c"] where Int.random(in: 0..<3, using: &rng) > 0 || metrics.isEmpty && name == "c" {
                metrics.append(Metric(name, (Double.random(in: -50...50, using: &rng) * 100).rounded() / 100))
            }
            inputs.append(Input(reading: Reading(device: device, ts: ts, metrics: metrics), arrival: arrival))
        }
        return inputs
    }

    /// The expected final windows: a reading counts in window w iff w.end > (max ts of the device's
    /// earlier readings - lateness).
    static func naive(_ inputs: [Input], _ config: WindowingConfiguration) -> (
        windows: [String: [(Double, Int64)]], late: Int
    ) {
        var windows: [String: [(Double, Int64)]] = [:]
        var maxTs: [DeviceID: Int64] = [:]
        var late = 0
        for input in inputs {
            let r = input.reading
            let watermark = maxTs[r.device].map { $0 - config.allowedLateness.milliseconds } ?? .min
            var wasLate = false
            for spec in config.windows {
                var start = (r.ts / spec.hop) * spec.hop - spec.size + spec.hop
                while start <= r.ts {
                    if start + spec.size > watermark {
                        for m in r.metrics {
                            windows["\(r.device)|\(m.name)|\(spec.name)|\(start)", default: []].append((m.value, r.ts))
                        }
                    } else {
                        wasLate = true
                    }
                    start += spec.hop
                }
            }
            if wasLate { late += 1 }
            maxTs[r.device] = max(maxTs[r.device] ?? .min, r.ts)
        }
        return (windows, late)
    }

    @Test(arguments: 0..<12)
    func matchesANaiveRecomputation(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &* 7919)
        let devices = [DeviceID("d1")!, DeviceID("d2")!, DeviceID("d3")!]
        let config = WindowingConfiguration(
            windows: [.tumbling(.seconds(5)), try WindowSpec(parsing: "10s/2s")],
            allowedLateness: TimeSpan(milliseconds: Int64([0, 500, 2_000][seed % 3])))
        let inputs = Self.randomInputs(&rng, devices: devices)
        var aggregator = WindowAggregator(configuration: config)
        var emitted: [WindowStats] = []
        var restoredOnce = false
        for (i, input) in inputs.enumerated() {
            emitted += aggregator.ingest(input.reading, arrivedAt: input.arrival).closed
            if !restoredOnce, i == inputs.count / 2 {
                // Restart recovery: the snapshot carries on exactly.
                let snapshot = try JSONEncoder().encode(aggregator)
                aggregator = try JSONDecoder().decode(WindowAggregator.self, from: snapshot)
                restoredOnce = true
            }
        }
        emitted += aggregator.closeAll()
        let (expected, late) = Self.naive(inputs, config)
        #expect(aggregator.lateReadings == UInt64(late))
        let keys = emitted.map(\.key)
        #expect(Set(keys).count == keys.count, "a window was emitted twice")
        #expect(Set(keys) == Set(expected.keys))
        for stats in emitted {
            guard let values = expected[stats.key] else { continue }
            let xs = values.map(\.0)
            let sorted = xs.sorted()
            let mean = xs.reduce(0, +) / Double(xs.count)
            let sd = (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count)).squareRoot()
            let lastTs = values.map(\.1).max()!
            let last = values.last { $0.1 == lastTs }!.0
            #expect(stats.count == UInt64(xs.count))
            #expect(stats.min == sorted.first && stats.max == sorted.last)
            #expect(abs(stats.mean - mean) <= 1e-9)
            #expect(abs(stats.stddev - sd) <= 1e-9)
            #expect(stats.last == last, "\(stats.key)")
            for (q, estimate) in [(0.5, stats.p50), (0.95, stats.p95), (0.99, stats.p99)] {
                let exact = StatisticsTests.exactQuantile(sorted, q)
                #expect(StatisticsTests.withinBound(estimate, exact), "\(stats.key) q=\(q)")
            }
            #expect(stats.final)
        }
    }
}

@Suite struct HostileInputTests {
    @Test func extremeTimesNeverTrap() {
        let device = DeviceID("x")!
        var aggregator = WindowAggregator(
            configuration: WindowingConfiguration(
                windows: [.tumbling(.init(milliseconds: 0)), .tumbling(.seconds(10))],
                allowedLateness: .init(milliseconds: .max), idleGrace: .init(milliseconds: .max)))
        for ts in [Int64.min, -1, 0, Int64.max, 1 << 53, -(1 << 53)] {
            _ = aggregator.ingest(Reading(device: device, ts: ts, metrics: [Metric("m", 1)]), arrivedAt: ts)
            _ = aggregator.advance(now: ts)
        }
        _ = aggregator.advance(now: .max)
        _ = aggregator.closeAll()
        var evaluator = AlertEvaluator(rules: [
            AlertRule(name: "a", metric: "m", condition: .rateAbove(perSecond: 1), holdFor: .init(milliseconds: .max)),
            AlertRule(name: "o", metric: nil, condition: .offline(.init(milliseconds: .max))),
        ])
        for ts in [Int64.min, Int64.min + 1, 0, Int64.max] {
            _ = evaluator.evaluate(Reading(device: device, ts: ts, metrics: [Metric("m", Double(ts))]), arrivedAt: ts)
            _ = evaluator.advance(now: ts)
        }
        _ = evaluator.advance(now: .max)
        #expect(TimeSpan(parsing: "999999999999d") == nil)
        #expect(TimeSpan(parsing: "999999999999h") == nil)
    }
}
