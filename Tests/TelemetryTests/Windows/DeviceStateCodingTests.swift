import Testing

@testable import Telemetry

/// The binary state codec: primitives round-trip exactly and reject bad bytes; a device's window
/// and alert state restored from its bytes goes on exactly like the original.
@Suite struct DeviceStateCodingTests {
    @Test func primitivesRoundTrip() throws {
        let unsigned: [UInt64] = [0, 1, 127, 128, 300, 16_383, 16_384, UInt64(UInt32.max), .max - 1, .max]
        let signed: [Int64] = [0, 1, -1, 63, -64, 64, -65, 1_764_400_000_000, -1_764_400_000_000, .max, .min]
        let doubles: [Double] = [0, -0.0, 1.5, -2.25e-300, .greatestFiniteMagnitude, .infinity, -.infinity, .nan]
        let strings = ["", "temperature", "ünïcødé ✓", String(repeating: "x", count: 300)]
        var writer = StateWriter()
        for value in unsigned { writer.varint(value) }
        for value in signed { writer.signed(value) }
        for value in doubles { writer.double(value) }
        for value in strings { writer.string(value) }
        writer.optionalString(nil)
        writer.optionalString("ackedBy")
        var reader = StateReader(writer.bytes)
        for value in unsigned { #expect(try reader.varint() == value) }
        for value in signed { #expect(try reader.signed() == value) }
        for value in doubles { #expect(try reader.double().bitPattern == value.bitPattern) }
        for value in strings { #expect(try reader.string(maxBytes: 1000) == value) }
        #expect(try reader.optionalString(maxBytes: 10) == nil)
        #expect(try reader.optionalString(maxBytes: 10) == "ackedBy")
        #expect(reader.isAtEnd)
        #expect(throws: StateDecodingError.self) { try reader.byte() }
    }

    @Test func badBytesAreRejected() {
        // Truncated varint, overlong varint, short double, string over its limit, invalid UTF-8,
        // count over its limit.
        var truncated = StateReader([0x80, 0x80])
        #expect(throws: StateDecodingError.self) { try truncated.varint() }
        var overlong = StateReader(Array(repeating: 0xFF, count: 11))
        #expect(throws: StateDecodingError.self) { try overlong.varint() }
        var short = StateReader([1, 2, 3])
        #expect(throws: StateDecodingError.self) { try short.double() }
        var long = StateReader([5, 65, 65, 65, 65, 65])
        #expect(throws: StateDecodingError.self) { try long.string(maxBytes: 4) }
        var invalid = StateReader([2, 0xC3, 0x28])
        #expect(throws: StateDecodingError.self) { try invalid.string(maxBytes: 4) }
        var count = StateReader([0xE8, 0x07])  // 1000
        #expect(throws: StateDecodingError.self) { try count.count(max: 999, of: "things") }
    }

    static let configuration = WindowingConfiguration(
        windows: [.tumbling(.seconds(10)), try! WindowSpec(size: .minutes(1), hop: .seconds(20))], allowedLateness: .seconds(2))

    static func randomReadings(_ devices: [DeviceID], count: Int, seed: UInt64) -> [Reading] {
        var random = SeededGenerator(seed: seed)
        var ts: Int64 = 1_764_400_000_000
        return (0..<count).map { index in
            ts += Int64.random(in: -1_500...1_200, using: &random)  // late and out-of-order ones too
            var metrics = [Metric("temperature", Double.random(in: -20...40, using: &random))]
            if index % 3 == 0 { metrics.append(Metric("humidity", Double(Int.random(in: 0...100, using: &random)))) }
            if index % 7 == 0 { metrics.append(Metric("zero", 0)) }
            return Reading(device: devices[index % devices.count], ts: ts, metrics: metrics)
        }
    }

    /// Property: for random streams, an aggregator rebuilt device by device from the bytes gives
    /// the same bytes again and, fed the rest of the stream, the same outputs as the original.
    @Test(arguments: [1, 2, 3] as [UInt64]) func aggregatorStateRestoresExactly(seed: UInt64) throws {
        let devices = ["a", "b-2", "c_3"].map { DeviceID($0)! }
        let readings = Self.randomReadings(devices, count: 400, seed: seed)
        var original = WindowAggregator(configuration: Self.configuration)
        for reading in readings[..<200] { _ = original.ingest(reading, arrivedAt: reading.ts + 5) }
        var restored = WindowAggregator(configuration: Self.configuration)
        for device in devices + [DeviceID("unknown")!] {
            var writer = StateWriter()
            let present = original.encodeState(of: device, into: &writer)
            #expect(present == (device.rawValue != "unknown"))
            var reader = StateReader(writer.bytes)
            #expect(try restored.restoreState(of: device, from: &reader).isEmpty)
            #expect(reader.isAtEnd)
            var again = StateWriter()
            restored.encodeState(of: device, into: &again)
            #expect(again.bytes == writer.bytes)
        }
        #expect(restored.devices == original.devices)
        for reading in readings[200...] {
            #expect(original.ingest(reading, arrivedAt: reading.ts + 5) == restored.ingest(reading, arrivedAt: reading.ts + 5))
        }
        #expect(original.advance(now: .max / 4) == restored.advance(now: .max / 4))
    }

    /// Windows whose shape is no longer configured close on restore (final statistics returned);
    /// the others carry on. Marker 0 removes a device; a corrupt record leaves the aggregator as
    /// it was.
    @Test func restoreUnderAnotherConfigurationAndBadRecords() throws {
        let device = DeviceID("d1")!
        var original = WindowAggregator(configuration: Self.configuration)
        for reading in Self.randomReadings([device], count: 5, seed: 9) { _ = original.ingest(reading, arrivedAt: 0) }
        var writer = StateWriter()
        original.encodeState(of: device, into: &writer)
        var onlyTumbling = WindowAggregator(configuration: WindowingConfiguration(windows: [.tumbling(.seconds(10))]))
        var reader = StateReader(writer.bytes)
        let closed = try onlyTumbling.restoreState(of: device, from: &reader)
        #expect(!closed.isEmpty)
        #expect(closed.allSatisfy { $0.window == "1m/20s" && $0.final })
        #expect(onlyTumbling.openStatistics(device: device) == original.openStatistics(device: device).filter { $0.window == "10s" })

        var empty = StateReader([0])
        #expect(try onlyTumbling.restoreState(of: device, from: &empty).isEmpty)
        #expect(onlyTumbling.devices[device] == nil)

        var truncated = StateReader(Array(writer.bytes.dropLast(3)))
        #expect(throws: StateDecodingError.self) { try original.restoreState(of: device, from: &truncated) }
        var badMarker = StateReader([7])
        #expect(throws: StateDecodingError.self) { try original.restoreState(of: device, from: &badMarker) }
        var check = StateWriter()
        original.encodeState(of: device, into: &check)
        #expect(check.bytes == writer.bytes)
    }

    static let rules = [
        AlertRule(name: "hot", metric: "temperature", condition: .above(30), holdFor: .seconds(2), clear: 28, severity: .critical),
        AlertRule(name: "rising", metric: "temperature", condition: .rateAbove(perSecond: 5)),
        AlertRule(name: "silent", metric: nil, condition: .offline(.seconds(30))),
    ]

    /// Active (acknowledged), pending and inactive rule states restore exactly: the restored
    /// evaluator emits what the original emits.
    @Test func evaluatorStateRestoresExactly() throws {
        let device = DeviceID("greenhouse-1")!
        var original = AlertEvaluator(rules: Self.rules)
        let base: Int64 = 1_764_400_000_000
        func reading(_ second: Int64, _ value: Double) -> Reading {
            Reading(device: device, ts: base + second * 1000, metrics: [Metric("temperature", value)])
        }
        for (second, value) in [(0, 20.0), (1, 31), (2, 32), (3, 33), (4, 34)] as [(Int64, Double)] {
            _ = original.evaluate(reading(second, value), arrivedAt: base + second * 1000)
        }
        let active = try #require(original.activeAlerts(device: device)["hot"])
        #expect(original.acknowledge(id: active, at: base + 5_000, by: "ana")?.state == .acknowledged)
        var writer = StateWriter()
        #expect(original.encodeState(of: device, into: &writer))
        var restored = AlertEvaluator(rules: Self.rules)
        var reader = StateReader(writer.bytes)
        #expect(try restored.restoreState(of: device, from: &reader, at: 0).isEmpty)
        #expect(reader.isAtEnd)
        var again = StateWriter()
        restored.encodeState(of: device, into: &again)
        #expect(again.bytes == writer.bytes)
        for (second, value) in [(6, 29.0), (7, 27), (8, 31), (9, 45)] as [(Int64, Double)] {
            #expect(
                original.evaluate(reading(second, value), arrivedAt: base + second * 1000)
                    == restored.evaluate(reading(second, value), arrivedAt: base + second * 1000))
        }
        #expect(original.advance(now: base + 60_000) == restored.advance(now: base + 60_000))
        var nothing = StateWriter()
        #expect(!original.encodeState(of: DeviceID("other")!, into: &nothing))
    }

    /// Restored under changed rules: states of unchanged rules carry on; an active alert of a rule
    /// whose definition changed is cleared at the given time (with what the old rule said).
    @Test func changedRuleClearsItsActiveAlertOnRestore() throws {
        let device = DeviceID("d")!
        var original = AlertEvaluator(rules: Self.rules)
        let reading = Reading(device: device, ts: 10_000, metrics: [Metric("temperature", 50)])
        _ = original.evaluate(Reading(device: device, ts: 0, metrics: [Metric("temperature", 50)]), arrivedAt: 0)
        let activated = original.evaluate(reading, arrivedAt: 10_000)
        #expect(activated.map(\.rule) == ["hot"])
        var writer = StateWriter()
        original.encodeState(of: device, into: &writer)
        var changed = Self.rules
        changed[0].holdFor = .seconds(5)
        var restored = AlertEvaluator(rules: changed)
        var reader = StateReader(writer.bytes)
        let cleared = try restored.restoreState(of: device, from: &reader, at: 99)
        #expect(cleared.count == 1)
        let transition = try #require(cleared.first)
        #expect(transition.state == .cleared && transition.id == activated[0].id && transition.ts == 99)
        #expect(transition.severity == .critical && transition.threshold == 28 && transition.metric == "temperature")
        #expect(restored.activeCount == 0)
        #expect(restored.states[device]?.keys.sorted() == ["rising", "silent"])
    }
}
