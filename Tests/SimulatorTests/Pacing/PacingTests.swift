import Testing

@testable import Simulator

@Suite struct PacingTests {
    static func fleet(rates: [(count: Int, rate: Double)]) -> FleetProfile {
        FleetProfile(
            types: rates.enumerated().map { index, entry in
                DeviceTypeProfile(
                    name: "t\(index)",
                    count: entry.count,
                    rate: entry.rate,
                    metrics: [MetricProfile(name: "m")]
                )
            }
        )
    }

    @Test func scalesEveryTypeByTheSameFactor() throws {
        let fleet = Self.fleet(rates: [(10, 1), (5, 2)])
        #expect(fleet.totalRate == 20)
        let plan = try PacingPlan(fleet: fleet, targetRate: 1000)
        #expect(plan.factor == 50)
        #expect(plan.fleet.types.map(\.rate) == [50, 100])
        #expect(plan.fleet.totalRate == 1000)
        #expect(plan.expectedBatchSize(tickMilliseconds: 10) == 10)
    }

    @Test func nilTargetKeepsTheProfileRates() throws {
        let fleet = try TestSupport.loadFleet("demo.yaml")
        let plan = try PacingPlan(fleet: fleet, targetRate: nil)
        #expect(plan.factor == 1 && plan.fleet == fleet)
        #expect(plan.targetRate == 14)  // 6 × 1 + 4 × 0.5 + 3 × 2
    }

    @Test(arguments: [(500.0, 10), (1000.0, 3), (333.0, 7), (2500.0, 12)] as [(Double, Int)])
    func generatedCountMatchesTheTarget(target: Double, seconds: Int) throws {
        let plan = try PacingPlan(fleet: Self.fleet(rates: [(4, 1), (3, 0.5), (2, 3)]), targetRate: target)
        var generator = FleetGenerator(
            fleet: plan.fleet,
            startMilliseconds: 0,
            limits: GeneratorLimits(durationMilliseconds: Int64(seconds) * 1000)
        )
        let readings = generator.generateAll().publications.filter(\.isTelemetry).count
        let expected = plan.expectedReadings(seconds: Double(seconds))
        #expect(abs(Double(readings) - expected) <= Double(plan.fleet.deviceCount), "\(readings) vs \(expected)")
        // ...and per second it is even: no second holds more than one extra reading per device.
        var perSecond = [Int](repeating: 0, count: seconds)
        var fresh = FleetGenerator(
            fleet: plan.fleet,
            startMilliseconds: 0,
            limits: GeneratorLimits(durationMilliseconds: Int64(seconds) * 1000)
        )
        while let publication = fresh.next() {
            if publication.isTelemetry { perSecond[Int(publication.offsetMilliseconds / 1000)] += 1 }
        }
        for count in perSecond {
            #expect(abs(Double(count) - target) <= Double(plan.fleet.deviceCount))
        }
    }

    @Test func refusesRatesAboveOnePerMillisecondPerDevice() throws {
        let fleet = Self.fleet(rates: [(2, 1), (1, 2)])
        let error = try #require(throws: ProfileError.self) { try PacingPlan(fleet: fleet, targetRate: 10_000) }
        #expect(error.code == .outOfRange)
        #expect(error.description.contains("ask for at most 2000 readings/s"))
        #expect(throws: ProfileError.self) { try PacingPlan(fleet: fleet, targetRate: 0) }
        #expect(throws: ProfileError.self) { try PacingPlan(fleet: fleet, targetRate: .nan) }
    }

    @Test(
        arguments: [
            (nil, 0, BatchPacer.Decision.finished),
            (5, 10, .publish(dueUntil: 10)),
            (10, 10, .publish(dueUntil: 10)),
            (11, 10, .sleep(untilMilliseconds: 20)),
            (20, 10, .sleep(untilMilliseconds: 20)),
            (1234, 0, .sleep(untilMilliseconds: 1240)),
        ] as [(Int64?, Int64, BatchPacer.Decision)]
    )
    func pacerDecisions(next: Int64?, elapsed: Int64, decision: BatchPacer.Decision) {
        #expect(BatchPacer(tickMilliseconds: 10).decide(nextOffset: next, elapsedMilliseconds: elapsed) == decision)
    }

    @Test func pacerLag() {
        let pacer = BatchPacer()
        #expect(pacer.lag(oldestDueOffset: 100, elapsedMilliseconds: 1600) == 1500)
        #expect(pacer.lag(oldestDueOffset: 2000, elapsedMilliseconds: 1600) == 0)
        #expect(pacer.lag(oldestDueOffset: nil, elapsedMilliseconds: 1600) == 0)
    }

    @Test func rateMeterMeasuresTheLastWindow() {
        var meter = RateMeter(windowMilliseconds: 1000)
        #expect(meter.record(published: 0, elapsedMilliseconds: 0) == 0)
        #expect(meter.record(published: 500, elapsedMilliseconds: 500) == 1000)
        #expect(meter.record(published: 1000, elapsedMilliseconds: 1000) == 1000)
        // A stall: nothing for a second, the rate falls to 0 over the window.
        _ = meter.record(published: 1000, elapsedMilliseconds: 1500)
        #expect(meter.record(published: 1000, elapsedMilliseconds: 2000) == 0)
        #expect(meter.record(published: 1200, elapsedMilliseconds: 2100) > 0)
    }

    @Test func progressLine() {
        let progress = SimulatorProgress(
            published: 12_034,
            readings: 12_000,
            errors: 2,
            elapsedMilliseconds: 12_049,
            perSecond: 1002.46,
            lagMilliseconds: 0
        )
        #expect(progress.summary == "simulate  12.0s  published 12034  readings 12000  1002.5/s  errors 2")
        let line = progress.progressLine(width: 79)
        #expect(line.hasPrefix("\rsimulate  12.0s"))
        #expect(line.count == 80 && !line.contains("\n"))
        var behind = progress
        behind.lagMilliseconds = 2500
        #expect(behind.summary.hasSuffix("errors 2  behind 2.5s"))
        #expect(SimulatorProgress.fixed(0.05, 1) == "0.1" && SimulatorProgress.fixed(-3.14159, 2) == "-3.14")
    }
}

/// Property test: reading counts and timestamps against a naive recomputation of the grid.
@Suite struct SampleGridTests {
    @Test(arguments: 0..<12)
    func readingsFollowTheNaiveGrid(trial: Int) throws {
        var random = Xoshiro256StarStar(seed: UInt64(trial) &* 7919)
        let types = (0..<3).map { index in
            DeviceTypeProfile(
                name: "t\(index)",
                count: Int(random.nextInt(in: 1...5)),
                rate: Double(random.nextInt(in: 1...4000)) / 100,  // 0.01 ... 40 per second
                metrics: [MetricProfile(name: "m")]
            )
        }
        let fleet = FleetProfile(seed: UInt64(trial), types: types)
        try fleet.validate()
        let duration = random.nextInt(in: 1000...20_000)
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: 0,
            limits: GeneratorLimits(durationMilliseconds: duration)
        )
        var actual: [String: [Int64]] = [:]
        while let publication = generator.next() {
            if case .telemetry(_, let ts) = publication.kind { actual[publication.deviceID, default: []].append(ts) }
        }
        for device in fleet.devices {
            let type = fleet.types[device.typeIndex]
            let interval = 1000 / type.rate
            // Naive: offset i·I/count, then every I, all below the duration.
            let offset = Int64((Double(device.indexInType) * interval / Double(type.count)).rounded(.down))
            var expected: [Int64] = []
            var k: Int64 = 0
            while true {
                let ts = offset + Int64((Double(k) * interval).rounded(.down))
                if ts >= duration { break }
                expected.append(ts)
                k += 1
            }
            #expect(actual[device.id, default: []] == expected, "\(device.id) rate \(type.rate)")
        }
    }
}
