import Foundation
import FluxgateTesting
import Kafka
import Simulator
import Telemetry
import Testing

/// Issue #5's golden test through the running pipeline: `fluxgate simulate` publishes a seeded
/// fleet with injected spikes and offline periods to mosquitto; `fluxgate ingress` lands it in
/// Kafka and `fluxgate windowing` computes windows and alerts. The transitions in `<prefix>alerts`
/// equal exactly those derived from the simulator's ground truth (none missing, none extra) and
/// the final windows in `<prefix>stats` equal a naive recomputation from `<prefix>readings`.
@Suite("Pipeline: golden alerts and statistics of a simulated fleet", .serialized, .timeLimit(.minutes(3)))
struct GoldenPipelineTests {
    /// Two temperature probes spike above 28 every 6 s for 1 s, a third goes offline for 4 s every
    /// 10 s (and its humidity gets stuck), two pumps shake at random. No late readings: alert rules
    /// run in event-time order, so a late reading would make the derivation depend on timing.
    static let fleetYAML = """
        description: PipelineTests golden fleet
        seed: 11
        types:
          - name: probe
            count: 3
            id: "gp-{n}"
            rate: 4
            metrics:
              - name: temperature
                baseline: 20
                noise: 0.2
                spikes: { every: 6s, at: 2s, duration: 1s, magnitude: 15, devices: [1, 2] }
              - name: humidity
                baseline: 50
                daily: { amplitude: 5, period: 20s, phase: 0 }
                decimals: 1
                stuck: { every: 9s, at: 3s, duration: 2s, devices: [3] }
            offline: { every: 10s, at: 5s, duration: 4s, devices: [3] }
          - name: pump
            count: 2
            id: "gpump-{n}"
            rate: 5
            metrics:
              - name: vibration
                baseline: 2
                noise: { stddev: 0.2, clamp: 3 }
                min: 0
                spikes: { probability: 0.03, duration: 600ms, magnitude: 6 }
        """

    /// Thresholds sit above every normal value and below every spike (checked below); lateness
    /// and idle grace are generous so that a loaded machine does not turn a slow stage into
    /// "late" readings.
    static let rulesYAML = """
        windows: [5s, 10s/5s]
        lateness: 3s
        idle_grace: 3s
        rules:
          - name: hot
            devices: "gp-*"
            metric: temperature
            above: 28
            clear: 24
            severity: critical
          - name: hot-held
            devices: "gp-*"
            metric: temperature
            above: 28
            for: 500ms
            clear: 24
            severity: warning
          - name: shaking
            devices: "gpump-*"
            metric: vibration
            above: 5
            clear: 4
            severity: warning
          - name: silent
            devices: "gp-*"
            offline: 2s
            severity: warning
        """

    static let duration: Int64 = 30_000

    @Test func alertsAndWindowsEqualTheOracle() async throws {
        let fleetPath = try temporaryFile("fleet.yaml", Self.fleetYAML)
        let truthPath = fleetPath + ".truth.jsonl"
        defer {
            try? FileManager.default.removeItem(atPath: fleetPath)
            try? FileManager.default.removeItem(atPath: truthPath)
        }
        let fleet = try FleetProfileParser.load(path: fleetPath)
        let telemetry = try TelemetryConfiguration.parse(yaml: Self.rulesYAML)

        var configuration = Pipeline.Configuration()
        configuration.stages = [.ingress, .windowing]
        configuration.rulesYAML = Self.rulesYAML
        configuration.extraArguments[.windowing] = ["--stats-update-interval", "off"]
        try await withPipeline(configuration) { pipeline in
            let reader = try TopicReader(pipeline, ["readings", "stats", "alerts", "deadletter"])
            try await whileRunning([reader], logger: testLogger) {
                let simulate = try pipeline.fluxgate([
                    "simulate", "--fleet", fleetPath, "--duration", "\(Self.duration / 1000)s", "--ground-truth", truthPath,
                    "--mqtt-url", pipeline.broker.url, "--mqtt-client-id", "pipeline-golden-simulate", "--log-level", "warning",
                ])
                defer { simulate.kill() }
                let status = try await simulate.waitForExit(timeout: .seconds(90))
                try await Task.sleep(for: .milliseconds(200))  // the last progress line
                #expect(status == 0, "simulate: \(simulate.errorLines.suffix(5))")
                let counters = try #require(simulateCounters(simulate), "\(simulate.errorLines.suffix(5))")
                #expect(counters.errors == 0)
                let truth = try GroundTruth.parse(jsonLines: String(contentsOfFile: truthPath, encoding: .utf8))
                #expect(truth.spikes.count >= 8 && truth.offlinePeriods.count >= 2, "\(truth.records.count) truth records")

                // Every reading lands in Kafka.
                try await waitUntil(60, "\(counters.readings) readings in Kafka (have \(reader.records(pipeline.topic("readings")).count))") {
                    reader.records(pipeline.topic("readings")).count >= counters.readings
                }
                let landed = reader.records(pipeline.topic("readings")).compactMap(LandedReading.init)
                #expect(landed.count == counters.readings)
                let byDevice = Dictionary(grouping: landed, by: \.device).mapValues { $0.sorted { $0.reading.ts < $1.reading.ts } }
                for (device, readings) in byDevice {
                    #expect(readings.map(\.reading.seq) == (0..<UInt64(readings.count)).map { $0 }, "\(device): seqs 0..<n, once each")
                }

                // The oracles.
                var oracle = AlertOracle(fleet: fleet, truth: truth, readings: byDevice, durationMilliseconds: Self.duration)
                for rule in telemetry.rules { oracle.derive(rule) }
                #expect(oracle.problems == [])
                let expectedAlerts = Set(oracle.expected)
                let expectedWindows = naiveWindows(landed, specs: telemetry.windowing.windows)

                func actualAlerts() -> [AlertTransition] {
                    reader.records(pipeline.topic("alerts")).compactMap { try? AlertTransition.decode($0.value) }
                }
                func finalStats() -> [WindowStats] {
                    reader.records(pipeline.topic("stats")).compactMap { try? WindowStats.decode($0.value) }.filter(\.final)
                }
                // Wait (a timeout is not an error here: the comparisons below say what is missing).
                _ = try? await waitUntil(45, "every expected alert") {
                    expectedAlerts.isSubset(of: actualAlerts().map(TransitionKey.init))
                }
                _ = try? await waitUntil(45, "every final window") {
                    Set(expectedWindows.keys).isSubset(of: finalStats().map(\.key))
                }
                // Whatever else the stage would emit (an extra transition, a second final) has
                // had time to arrive: the stage flushes every 50 ms.
                try await Task.sleep(for: .seconds(4))

                let alerts = actualAlerts()
                let actualKeys = alerts.map(TransitionKey.init)
                let missingAlerts = expectedAlerts.subtracting(actualKeys).sorted()
                let extraAlerts = Set(actualKeys).subtracting(expectedAlerts).sorted()
                #expect(missingAlerts.isEmpty && extraAlerts.isEmpty, """
                    \(expectedAlerts.count) transitions expected; missing \(missingAlerts.count): \(missingAlerts.prefix(10))
                    extra \(extraAlerts.count): \(extraAlerts.prefix(10))
                    arrival gaps over 1.5 s outside offline periods (a stalled machine): \(oracle.unexpectedGaps)
                    """)
                #expect(actualKeys.count == Set(actualKeys).count, "no transition twice in an undisturbed run")
                for alert in alerts where alert.state == .active {
                    if let value = oracle.values[TransitionKey(alert)] { #expect(alert.value == value, "\(alert)") }
                }

                let finals = finalStats()
                let actualWindows = Dictionary(finals.map { ($0.key, $0) }) { first, _ in first }
                let missingWindows = Set(expectedWindows.keys).subtracting(actualWindows.keys).sorted()
                let extraWindows = Set(actualWindows.keys).subtracting(expectedWindows.keys).sorted()
                #expect(missingWindows.isEmpty && extraWindows.isEmpty, """
                    \(expectedWindows.count) windows expected; missing \(missingWindows.count): \(missingWindows.prefix(10))
                    extra \(extraWindows.count): \(extraWindows.prefix(10))
                    """)
                #expect(finals.count == actualWindows.count, "one final record per window")
                var mismatches: [String] = []
                for (key, naive) in expectedWindows {
                    if let stats = actualWindows[key], !naive.matches(stats) { mismatches.append("\(key): \(stats) vs \(naive)") }
                }
                #expect(mismatches.isEmpty, "\(mismatches.count) windows differ: \(mismatches.prefix(5))")
                #expect(reader.records(pipeline.topic("deadletter")).isEmpty, "no reading rejected as late")
                let counts = Dictionary(grouping: alerts, by: \.rule).mapValues(\.count)
                print("golden pipeline: \(landed.count) readings, \(actualWindows.count) windows, transitions \(counts.sorted { $0.key < $1.key })")
            }
        }
    }
}

/// What identifies a transition for the golden comparison.
struct TransitionKey: Hashable, Comparable, CustomStringConvertible {
    var rule: String
    var device: String
    var state: String
    var ts: Int64

    init(rule: String, device: String, state: String, ts: Int64) {
        self.rule = rule
        self.device = device
        self.state = state
        self.ts = ts
    }

    init(_ transition: AlertTransition) {
        self.init(rule: transition.rule, device: transition.device.rawValue, state: transition.state.rawValue, ts: transition.ts)
    }

    static func < (a: Self, b: Self) -> Bool { (a.ts, a.device, a.rule, a.state) < (b.ts, b.device, b.rule, b.state) }
    var description: String { "\(rule)/\(device)/\(state)@\(ts)" }
}

/// The transitions the rules must produce, from the fleet profile, the ground truth and — for
/// the wall-clock `offline` rules and for "the next reading" — the readings as they landed
/// (their `fluxgate-received-at` arrival times).
///
/// - Threshold rules (`above`, optional `for`) on a metric whose normal range stays below both the
///   threshold and the clear level, with spikes that all cross: each run of back-to-back spikes of
///   a device is one episode; active at its first reading at least `for` after the episode's first
///   reading, cleared at the device's next reading after the episode.
/// - `offline: T`: for each ground-truth offline period, active at the arrival of the last reading
///   before plus `T`, cleared at the arrival of the first reading after; and once more after the
///   device's very last reading (the run ends).
struct AlertOracle {
    let fleet: FleetProfile
    let truth: GroundTruth
    let readings: [String: [LandedReading]]
    let durationMilliseconds: Int64
    var expected: [TransitionKey] = []
    var values: [TransitionKey: Double] = [:]
    var problems: [String] = []
    /// Arrival gaps of at least 1.5 s that no offline period explains, per device (diagnostics).
    var unexpectedGaps: [String] = []

    init(fleet: FleetProfile, truth: GroundTruth, readings: [String: [LandedReading]], durationMilliseconds: Int64) {
        self.fleet = fleet
        self.truth = truth
        self.readings = readings
        self.durationMilliseconds = durationMilliseconds
    }

    mutating func derive(_ rule: AlertRule) {
        for device in fleet.devices {
            guard let id = DeviceID(device.id), rule.matches(id) else { continue }
            let type = fleet.types[device.typeIndex]
            let step = Int64(type.intervalMilliseconds)
            switch rule.condition {
            case .offline(let span):
                deriveOffline(rule, device: device.id, silence: span.milliseconds)
            case .above(let threshold):
                guard let name = rule.metric, let metric = type.metrics.first(where: { $0.name == name }) else {
                    problems.append("\(rule.name): \(device.id) has no metric \(rule.metric ?? "-")")
                    continue
                }
                let normal = metric.normalRange(durationMilliseconds: durationMilliseconds)
                guard normal.upperBound <= threshold, normal.upperBound <= rule.clearLevel else {
                    problems.append("\(rule.name): normal range \(normal) of \(name) reaches the threshold or clear level")
                    continue
                }
                deriveThreshold(rule, threshold: threshold, device: device.id, metric: name, step: step)
            default:
                problems.append("\(rule.name): this oracle derives only `above` and `offline` rules")
            }
        }
    }

    private mutating func add(_ rule: String, _ device: String, _ state: String, _ ts: Int64, value: Double? = nil) {
        let key = TransitionKey(rule: rule, device: device, state: state, ts: ts)
        expected.append(key)
        if let value { values[key] = value }
    }

    private mutating func deriveThreshold(_ rule: AlertRule, threshold: Double, device: String, metric: String, step: Int64) {
        let spikes = truth.spikes.filter { $0.device == device && $0.metric == metric && ($0.readings ?? 0) > 0 }
            .sorted { ($0.firstReadingTs ?? 0) < ($1.firstReadingTs ?? 0) }
        guard spikes.allSatisfy({ ($0.value ?? -.infinity) > threshold }) else {
            problems.append("\(rule.name) on \(device): a spike stays below \(threshold)")
            return
        }
        // Episodes: back-to-back spikes (the next one starts at the next reading) are one breach.
        var episodes: [[GroundTruthRecord]] = []
        for spike in spikes {
            if let previous = episodes.last?.last, let last = previous.lastReadingTs, spike.firstReadingTs == last + step {
                episodes[episodes.count - 1].append(spike)
            } else {
                episodes.append([spike])
            }
        }
        let hold = rule.holdFor.milliseconds
        let deviceReadings = readings[device] ?? []
        for episode in episodes {
            guard let first = episode.first?.firstReadingTs, let last = episode.last?.lastReadingTs else { continue }
            let activation = first + (hold + step - 1) / step * step
            guard activation <= last, let spike = episode.first(where: { ($0.firstReadingTs ?? 0)...($0.lastReadingTs ?? 0) ~= activation })
            else { continue }
            add(rule.name, device, "active", activation, value: spike.value)
            if let next = deviceReadings.first(where: { $0.reading.ts > last }) {
                add(rule.name, device, "cleared", next.reading.ts)
            }
        }
    }

    private mutating func deriveOffline(_ rule: AlertRule, device: String, silence: Int64) {
        let deviceReadings = readings[device] ?? []
        let arrival = Dictionary(deviceReadings.map { ($0.reading.ts, $0.receivedAt) }) { first, _ in first }
        var explained: [ClosedRange<Int64>] = []
        for period in truth.offlinePeriods where period.device == device {
            guard let before = period.lastReadingBefore, let after = period.firstReadingAfter else { continue }
            guard let left = arrival[before], let right = arrival[after] else {
                problems.append("\(device): the readings around the offline period \(period.start ?? 0) did not land")
                continue
            }
            explained.append(before...after)
            guard right - left >= silence else {
                problems.append("\(device): offline \(period.start ?? 0): arrivals only \(right - left) ms apart")
                continue
            }
            add(rule.name, device, "active", left + silence)
            add(rule.name, device, "cleared", right)
        }
        if let last = deviceReadings.last {
            add(rule.name, device, "active", last.receivedAt + silence)
        }
        for (previous, next) in zip(deviceReadings, deviceReadings.dropFirst())
        where next.receivedAt - previous.receivedAt >= 1500 && !explained.contains(previous.reading.ts...next.reading.ts) {
            unexpectedGaps.append("\(device) \(previous.reading.ts)->\(next.reading.ts): \(next.receivedAt - previous.receivedAt) ms")
        }
    }
}

/// What a final window must report, from the readings alone.
struct NaiveWindowStats: CustomStringConvertible {
    var values: [(ts: Int64, value: Double)] = []

    var count: UInt64 { UInt64(values.count) }
    var mean: Double { values.map(\.value).reduce(0, +) / Double(values.count) }
    var stddev: Double {
        let m = mean
        return (values.map { ($0.value - m) * ($0.value - m) }.reduce(0, +) / Double(values.count)).squareRoot()
    }

    func matches(_ stats: WindowStats) -> Bool {
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(b)) }
        return stats.count == count && stats.min == values.map(\.value).min() && stats.max == values.map(\.value).max()
            && close(stats.mean, mean) && abs(stats.stddev - stddev) <= 1e-7 * max(1, stddev)
            && stats.last == values.max { $0.ts < $1.ts }?.value
    }

    var description: String { "naive(count \(count), mean \(mean), stddev \(stddev))" }
}

/// Every window (`device|metric|window|start`) of every spec that readings fall into.
func naiveWindows(_ readings: [LandedReading], specs: [WindowSpec]) -> [String: NaiveWindowStats] {
    var result: [String: NaiveWindowStats] = [:]
    for landed in readings {
        for spec in specs {
            var start = landed.reading.ts - ((landed.reading.ts % spec.hop) + spec.hop) % spec.hop - spec.size + spec.hop
            while start <= landed.reading.ts {
                for metric in landed.reading.metrics {
                    result["\(landed.device)|\(metric.name)|\(spec.name)|\(start)", default: .init()].values.append(
                        (landed.reading.ts, metric.value))
                }
                start += spec.hop
            }
        }
    }
    return result
}
