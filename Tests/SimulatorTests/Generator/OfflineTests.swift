import Testing

@testable import Simulator

@Suite struct OfflineTests {
    /// Three devices at 5/s; device 2 drops out at random (2 % of readings) for 1.5 s.
    static let fleet = FleetProfile(
        seed: 99,
        types: [
            DeviceTypeProfile(
                name: "node",
                count: 3,
                idPattern: try? IDPattern.parse("node-{n}").get(),
                rate: 5,
                metrics: [MetricProfile(name: "v", baseline: 1)],
                offline: EventProfile(trigger: .probability(0.02), durationMilliseconds: 1500, devices: [2]),
                late: LatenessProfile(fraction: 0.1, maxDelayMilliseconds: 900)
            )
        ]
    )

    @Test func randomOfflinePeriodsSilenceTheDevice() throws {
        try Self.fleet.validate()
        var generator = FleetGenerator(
            fleet: Self.fleet,
            startMilliseconds: 0,
            limits: GeneratorLimits(durationMilliseconds: 120_000)
        )
        let (publications, truth) = generator.generateAll()
        let periods = truth.offlinePeriods
        #expect(periods.count >= 5)
        #expect(periods.allSatisfy { $0.device == "node-2" && $0.end! - $0.start! == 1500 })
        let node2 = publications.filter { $0.deviceID == "node-2" }
        for period in periods {
            // The triggering reading is not taken: the period starts on the device's grid.
            #expect((period.start! - 66) % 200 == 0)
            #expect(period.lastReadingBefore.map { $0 <= period.start! - 200 && ($0 - 66) % 200 == 0 } ?? true)
            #expect(period.firstReadingAfter.map { $0 >= period.end! && $0 - period.end! < 200 } ?? true)
            // Nothing taken inside; whatever is published inside is the offline status itself.
            let inside = node2.filter { period.start! <= $0.offsetMilliseconds && $0.offsetMilliseconds < period.end! }
            #expect(inside.map(\.kind) == [.status(.offline)])
            #expect(node2.contains { $0.kind == .status(.online) && $0.offsetMilliseconds == period.end! })
        }
        // Late readings held back by an offline period come out right after `online`.
        let heldBack = truth.lateReadings.filter { late in
            periods.contains { $0.end! == late.publishedAt! && late.device == $0.device }
        }
        #expect(!heldBack.isEmpty)
        // Other devices never go offline, and every device's seq stays gap-free.
        #expect(!publications.contains { $0.deviceID != "node-2" && $0.kind == .status(.offline) })
        for device in ["node-1", "node-2", "node-3"] {
            let seqs = publications.compactMap { publication -> UInt64? in
                guard publication.deviceID == device, case .telemetry(let seq, _) = publication.kind else { return nil }
                return seq
            }.sorted()
            #expect(seqs == Array(0..<UInt64(seqs.count)))
        }
    }

    @Test func offlinePeriodsThatWouldOutlastTheRunDoNotStart() throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        // probe-2 goes offline at 2.5 s for 0.7 s.
        for (duration, starts) in [(3_000, false), (3_200, true)] as [(Int64, Bool)] {
            var generator = FleetGenerator(
                fleet: fleet,
                startMilliseconds: 0,
                limits: GeneratorLimits(durationMilliseconds: duration)
            )
            let (publications, truth) = generator.generateAll()
            #expect(publications.contains { $0.kind == .status(.offline) } == starts)
            #expect(truth.offlinePeriods.count == (starts ? 1 : 0))
            // Every reading taken is published; late ones may come after the end.
            #expect(publications.filter(\.isTelemetry).count == generator.readingsSampled)
            #expect(publications.filter(\.isTelemetry).allSatisfy {
                guard case .telemetry(_, let ts) = $0.kind else { return false }
                return ts < duration
            })
        }
    }
}
