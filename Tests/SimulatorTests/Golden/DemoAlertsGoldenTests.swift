import Testing

@testable import Simulator
import Telemetry

/// The simulator against the real domain: Telemetry's reading decoder accepts every payload, and
/// Telemetry's alert evaluator with the default rules fires exactly the alerts that
/// docs/simulator.md derives from the ground truth.
@Suite struct DemoAlertsGoldenTests {
    struct Key: Hashable, Comparable, CustomStringConvertible {
        var rule: String
        var device: String
        var state: String
        var ts: Int64
        static func < (a: Key, b: Key) -> Bool { (a.ts, a.device, a.rule, a.state) < (b.ts, b.device, b.rule, b.state) }
        var description: String { "\(rule)/\(device)/\(state)@\(ts - TestSupport.start)" }
    }

    static let duration: Int64 = 1_800_000

    @Test(arguments: ["demo.yaml", "test.yaml"])
    func telemetryDecoderAcceptsEveryPayload(file: String) throws {
        let fleet = try TestSupport.loadFleet(file)
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 300_000)
        )
        let decoder = ReadingDecoder()
        var count = 0
        while let publication = generator.next() {
            guard case .telemetry(let seq, let ts) = publication.kind else { continue }
            let reading = try decoder.decode(topic: publication.topic, payload: publication.payload)
            let expected = try TestSupport.decode(publication.payload)
            #expect(reading.device.rawValue == publication.deviceID)
            #expect(reading.ts == ts && reading.seq == seq)
            #expect(Dictionary(uniqueKeysWithValues: reading.metrics.map { ($0.name, $0.value) }) == expected.metrics)
            count += 1
        }
        #expect(count > 1000)
    }

    @Test func defaultRulesFireExactlyOnTheInjectedEvents() throws {
        var fleet = try TestSupport.loadFleet("demo.yaml")
        // Late readings are ignored by the evaluator (event-time order); without them the
        // derivation is exact (docs/simulator.md, "Deriving the expected alerts exactly").
        for index in fleet.types.indices { fleet.types[index].late = nil }
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: Self.duration)
        )
        let (publications, truth) = generator.generateAll()
        let rules = TelemetryConfiguration.standard.rules
        #expect(rules.count >= 3)

        // Actual: every reading through the real decoder and evaluator, in publication order.
        var evaluator = AlertEvaluator(rules: rules)
        let decoder = ReadingDecoder()
        var actual: [AlertTransition] = []
        for publication in publications where publication.isTelemetry {
            let arrival = TestSupport.start + publication.offsetMilliseconds
            actual += evaluator.advance(now: arrival)
            let reading = try decoder.decode(topic: publication.topic, payload: publication.payload)
            actual += evaluator.evaluate(reading, arrivedAt: arrival)
        }
        let actualKeys = actual.map {
            Key(rule: $0.rule, device: $0.device.rawValue, state: $0.state.rawValue, ts: $0.ts)
        }

        // Expected: from the profile, the rules and the ground truth only.
        var derivation = ExpectedAlerts(
            fleet: fleet,
            truth: truth,
            start: TestSupport.start,
            end: TestSupport.start + Self.duration
        )
        for rule in rules { derivation.derive(rule) }
        #expect(derivation.problems == [])
        #expect(actualKeys.sorted() == derivation.expected.sorted())
        for transition in actual where transition.state == .active {
            let key = Key(rule: transition.rule, device: transition.device.rawValue, state: "active", ts: transition.ts)
            if let value = derivation.values[key] { #expect(transition.value == value, "\(key)") }
        }
        // The demo shows the alerts it promises, several times each.
        let counts = Dictionary(grouping: derivation.expected.filter { $0.state == "active" }, by: \.rule)
            .mapValues(\.count)
        print("demo alerts in 30 min:", counts.sorted { $0.key < $1.key })
        #expect(counts["overheating"] == 20)  // 2 devices × spikes at 1, 4, ..., 28 min
        #expect(counts["humid"] == 4)  // 4, 11, 18, 25 min
        #expect(counts["silent"] == 6)  // 2, 7, ..., 27 min
        #expect((counts["temperature-jump"] ?? 0) > 20)
        #expect((counts["freezer-warm"] ?? 0) > 0)
        #expect((counts["pump-vibration"] ?? 0) > 0)
    }
}

/// The derivation of docs/simulator.md: which transitions the rules must produce, from the
/// profile's normal ranges and the ground truth. Cases the rules cannot decide (a threshold inside
/// a normal range, a spike that may or may not cross) are reported as problems.
struct ExpectedAlerts {
    typealias Key = DemoAlertsGoldenTests.Key
    let fleet: FleetProfile
    let truth: GroundTruth
    let start: Int64
    let end: Int64
    let duration: Int64
    var expected: [Key] = []
    var values: [Key: Double] = [:]
    var problems: [String] = []

    init(fleet: FleetProfile, truth: GroundTruth, start: Int64, end: Int64) {
        self.fleet = fleet
        self.truth = truth
        self.start = start
        self.end = end
        duration = end - start
    }

    typealias SpikeReading = (ts: Int64, value: Double, spike: GroundTruthRecord)

    /// Readings of one device+metric inside back-to-back spikes, in order.
    func episodes(device: String, metric: String, step: Int64) -> [[SpikeReading]] {
        var result: [[SpikeReading]] = []
        let spikes = truth.spikes.filter { $0.device == device && $0.metric == metric && ($0.readings ?? 0) > 0 }
        for spike in spikes {
            guard let first = spike.firstReadingTs, let last = spike.lastReadingTs, let value = spike.value else {
                continue
            }
            let readings = stride(from: first, through: last, by: Int(step)).map { (ts: $0, value: value, spike: spike) }
            if let previous = result.last?.last, previous.ts + step == first {
                result[result.count - 1] += readings
            } else {
                result.append(readings)
            }
        }
        return result
    }

    /// Where a normal reading at `ts` can lie, knowing the spike `spike`: the peak is
    /// `finish(clean(start) + magnitude)`, so a normal reading is within `maximumNormalChange`
    /// of `peak − magnitude` (unless the peak was clamped), and always within the normal range.
    func normalValue(at ts: Int64, near spike: GroundTruthRecord, metric: MetricProfile) -> ClosedRange<Double> {
        let range = metric.normalRange(durationMilliseconds: duration)
        guard let peak = spike.value, let magnitude = spike.magnitude, let start = spike.start,
            peak < (metric.maximum ?? .infinity), peak > (metric.minimum ?? -.infinity)
        else { return range }
        let change = metric.maximumNormalChange(overMilliseconds: abs(ts - start))
        let low = Swift.max(range.lowerBound, peak - magnitude - change)
        let high = Swift.min(range.upperBound, peak - magnitude + change)
        return low <= high ? low...high : range
    }

    /// The ts of the device's first reading at or after `ts` (skipping offline periods), if any.
    func nextReading(device: String, atOrAfter ts: Int64) -> Int64? {
        if let period = truth.offlinePeriods.first(where: { $0.device == device && $0.start! <= ts && ts < $0.end! }) {
            return period.firstReadingAfter
        }
        return ts < end ? ts : nil
    }

    mutating func add(_ rule: String, _ device: String, _ state: String, _ ts: Int64, value: Double? = nil) {
        let key = Key(rule: rule, device: device, state: state, ts: ts)
        expected.append(key)
        if let value { values[key] = value }
    }

    mutating func derive(_ rule: AlertRule) {
        for device in fleet.devices {
            guard let id = DeviceID(device.id), rule.matches(id) else { continue }
            let type = fleet.types[device.typeIndex]
            let step = Int64(type.intervalMilliseconds)
            guard Double(step) == type.intervalMilliseconds else {
                problems.append("\(device.id): interval \(type.intervalMilliseconds) ms is not whole")
                continue
            }
            if case .offline(let span) = rule.condition {
                deriveOffline(rule, device: device.id, step: step, silence: span.milliseconds)
                continue
            }
            guard let name = rule.metric, let metric = type.metrics.first(where: { $0.name == name }) else { continue }
            switch rule.condition {
            case .above(let threshold), .below(let threshold):
                deriveThreshold(rule, threshold: threshold, device: device.id, metric: metric, step: step)
            case .rateAbove(let rate):
                deriveRate(rule, rate: rate, device: device.id, metric: metric, step: step)
            default:
                problems.append("\(rule.name): condition not derivable here")
            }
        }
    }

    private mutating func deriveThreshold(
        _ rule: AlertRule,
        threshold: Double,
        device: String,
        metric: MetricProfile,
        step: Int64
    ) {
        let upward: Bool
        if case .above = rule.condition { upward = true } else { upward = false }
        let range = metric.normalRange(durationMilliseconds: duration)
        let separated =
            upward
            ? range.upperBound <= threshold && range.upperBound <= rule.clearLevel
            : range.lowerBound >= threshold && range.lowerBound >= rule.clearLevel
        guard separated else {
            problems.append("\(rule.name) on \(device): normal range \(range) reaches the threshold or clear level")
            return
        }
        for episode in episodes(device: device, metric: metric.name, step: step) {
            let crossing = episode.map { upward ? $0.value > threshold : $0.value < threshold }
            if !crossing.contains(true) { continue }
            guard !crossing.contains(false) else {
                problems.append("\(rule.name) on \(device): back-to-back spikes on both sides of the threshold")
                continue
            }
            let first = episode[0].ts
            let hold = rule.holdFor.milliseconds
            let activation = first + (hold + step - 1) / step * step
            guard let reading = episode.first(where: { $0.ts == activation }) else { continue }
            add(rule.name, device, "active", activation, value: reading.value)
            if let next = nextReading(device: device, atOrAfter: episode.last!.ts + step) {
                add(rule.name, device, "cleared", next)
            }
        }
    }

    private mutating func deriveRate(_ rule: AlertRule, rate: Double, device: String, metric: MetricProfile, step: Int64) {
        let seconds = Double(step) / 1000
        let range = metric.normalRange(durationMilliseconds: duration)
        guard metric.maximumNormalChange(overMilliseconds: step) / seconds <= rate else {
            problems.append("\(rule.name) on \(device): normal readings may change faster than \(rate)/s")
            return
        }
        for episode in episodes(device: device, metric: metric.name, step: step) {
            // Value intervals of: the reading before, the episode's readings, the reading after.
            let before = episode[0].ts - step
            guard before >= start, nextReading(device: device, atOrAfter: before) == before else {
                problems.append("\(rule.name) on \(device): no reading right before the spike at \(episode[0].ts)")
                continue
            }
            let previous = normalValue(at: before, near: episode[0].spike, metric: metric)
            var slots: [(ts: Int64, low: Double, high: Double)] = [(before, previous.lowerBound, previous.upperBound)]
            slots += episode.map { ($0.ts, $0.value, $0.value) }
            if let after = nextReading(device: device, atOrAfter: episode.last!.ts + step) {
                let next = normalValue(at: after, near: episode.last!.spike, metric: metric)
                slots.append((after, next.lowerBound, next.upperBound))
            }
            var active = false
            for index in slots.indices.dropFirst() {
                let low = (slots[index].low - slots[index - 1].high) / seconds
                let high = (slots[index].high - slots[index - 1].low) / seconds
                if active {
                    if high <= rule.clearLevel {
                        active = false
                        add(rule.name, device, "cleared", slots[index].ts)
                    } else if low <= rule.clearLevel {
                        problems.append("\(rule.name) on \(device): clearing at \(slots[index].ts) undecidable")
                    }
                } else if low > rate {
                    active = true
                    add(rule.name, device, "active", slots[index].ts)
                } else if high > rate {
                    problems.append("\(rule.name) on \(device): jump at \(slots[index].ts) may or may not fire")
                }
            }
            if active, slots.last!.ts < end, slots.count == episode.count + 2 {
                problems.append("\(rule.name) on \(device): still active after the spike at \(episode[0].ts)")
            }
        }
    }

    private mutating func deriveOffline(_ rule: AlertRule, device: String, step: Int64, silence: Int64) {
        guard step < silence else {
            problems.append("\(rule.name) on \(device): the device reads less often than every \(silence) ms")
            return
        }
        for period in truth.offlinePeriods where period.device == device {
            guard let before = period.lastReadingBefore else { continue }
            if let after = period.firstReadingAfter {
                if after - before >= silence {
                    add(rule.name, device, "active", before + silence)
                    add(rule.name, device, "cleared", after)
                }
            } else if before + silence < end - 1000 {
                add(rule.name, device, "active", before + silence)
            }
        }
    }
}
