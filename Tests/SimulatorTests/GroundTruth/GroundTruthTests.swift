import Foundation
import Testing

@testable import Simulator

@Suite struct GroundTruthTests {
    @Test func jsonLinesRoundTrip() throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 10_000)
        )
        let truth = generator.generateAll().groundTruth
        let text = truth.jsonLines()
        #expect(text.split(separator: "\n").count == truth.records.count)
        #expect(try GroundTruth.parse(jsonLines: text) == truth)
        // Every kind is present in the golden fleet.
        #expect(Set(truth.records.map(\.kind)) == [.spike, .stuck, .offline, .late])
    }

    @Test func recordShapesAreStable() throws {
        let spike = GroundTruthRecord(
            kind: .spike,
            device: "probe-1",
            metric: "temperature",
            start: 1000,
            end: 1300,
            value: 30,
            magnitude: 10,
            readings: 3,
            firstReadingTs: 1000,
            lastReadingTs: 1200
        )
        #expect(
            GroundTruth(records: [spike]).jsonLines()
                == #"{"device":"probe-1","end":1300,"firstReadingTs":1000,"kind":"spike","lastReadingTs":1200,"magnitude":10,"metric":"temperature","readings":3,"start":1000,"value":30}"#
                + "\n"
        )
        let offline = GroundTruthRecord(
            kind: .offline,
            device: "d",
            start: 5,
            end: 9,
            lastReadingBefore: 4,
            firstReadingAfter: 10
        )
        #expect(
            GroundTruth(records: [offline]).jsonLines()
                == #"{"device":"d","end":9,"firstReadingAfter":10,"kind":"offline","lastReadingBefore":4,"start":5}"#
                + "\n"
        )
    }

    static var demoRun: DemoRun { DemoRun.shared }

    /// The rule of docs/simulator.md: with `X >= normalRange.upperBound`, a reading is above `X`
    /// exactly when it lies in a spike whose peak is above `X`.
    @Test(arguments: [30.0, 33.0, 35.5])
    func expectedAboveAlertsFollowFromGroundTruth(threshold: Double) throws {
        let run = Self.demoRun
        #expect(run.temperatures.count > 10_000)
        let greenhouseTemperature = try #require(run.fleet.types.first?.metrics.first)
        #expect(greenhouseTemperature.normalRange(durationMilliseconds: run.duration).upperBound <= threshold)
        let above = Set(run.temperatures.filter { $0.value > threshold }.map { "\($0.device)@\($0.ts)" })
        let spikes = truth(run.truth, threshold)
        var inSpikes = Set<String>()
        for reading in run.temperatures
        where spikes.contains(where: { $0.device == reading.device && $0.start! <= reading.ts && reading.ts < $0.end! })
        {
            inSpikes.insert("\(reading.device)@\(reading.ts)")
        }
        #expect(above == inSpikes)
        #expect(!above.isEmpty || threshold > 35)
        #expect(spikes.allSatisfy { $0.device == "greenhouse-002" || $0.device == "greenhouse-005" })
    }

    private func truth(_ truth: GroundTruth, _ threshold: Double) -> [GroundTruthRecord] {
        truth.spikes(of: "temperature", above: threshold)
    }

    @Test func takeGroundTruthDrainsAndGenerationGoesOn() throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        let limits = GeneratorLimits(durationMilliseconds: 20_000)
        var whole = FleetGenerator(fleet: fleet, startMilliseconds: TestSupport.start, limits: limits)
        let (expectedPublications, expectedTruth) = whole.generateAll()
        // Drain every 700 publications, right in the middle of running spikes and offline periods.
        var generator = FleetGenerator(fleet: fleet, startMilliseconds: TestSupport.start, limits: limits)
        var publications: [Publication] = []
        var taken: [GroundTruthRecord] = []
        while let publication = generator.next() {
            publications.append(publication)
            if publications.count % 700 == 0 { taken += generator.takeGroundTruth().records }
        }
        taken += generator.takeGroundTruth().records
        #expect(generator.groundTruth.records.isEmpty)
        #expect(publications == expectedPublications)
        // Same records in the same order; only events running at a drain may miss later readings.
        #expect(taken.map(\.kind) == expectedTruth.records.map(\.kind))
        #expect(taken.map(\.start) == expectedTruth.records.map(\.start))
        let changed = zip(taken, expectedTruth.records).filter { $0 != $1 }
        #expect(changed.count < 10)
        for (partial, full) in changed { #expect((partial.readings ?? 0) <= (full.readings ?? 0)) }
    }
}
