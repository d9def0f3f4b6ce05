import Testing

@testable import Simulator

/// Each generator feature, observed in the published bytes and checked against the ground truth.
@Suite struct GeneratorFeatureTests {
    let fleet: FleetProfile
    let publications: [Publication]
    let truth: GroundTruth
    let readings: [(publication: Publication, payload: TestSupport.Payload)]
    static let duration: Int64 = 20_000

    init() throws {
        fleet = try TestSupport.loadFleet("test.yaml")
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: Self.duration)
        )
        (publications, truth) = generator.generateAll()
        readings = try TestSupport.readings(publications)
    }

    func readings(of device: String) -> [TestSupport.Payload] {
        readings.filter { $0.publication.deviceID == device }.map(\.payload).sorted { $0.ts < $1.ts }
    }

    @Test func countsFollowRatesAndOfflinePeriods() {
        // probe: 10/s for 20 s; probe-2 loses 7 samples in each of its 5 offline periods.
        #expect(readings(of: "probe-1").count == 200)
        #expect(readings(of: "probe-2").count == 200 - 5 * 7)
        #expect(readings(of: "pump_01").count == 100)
        #expect(Set(readings.map(\.publication.deviceID)) == ["probe-1", "probe-2", "pump_01"])
        // Every device reads on its own grid: probe-2 is staggered by half an interval.
        #expect(readings(of: "probe-1").prefix(3).map { $0.ts - TestSupport.start } == [0, 100, 200])
        #expect(readings(of: "probe-2").prefix(3).map { $0.ts - TestSupport.start } == [50, 150, 250])
        #expect(readings(of: "pump_01").prefix(3).map { $0.ts - TestSupport.start } == [0, 200, 400])
    }

    @Test func sequenceNumbersAreContiguousAndUnique() {
        for device in ["probe-1", "probe-2", "pump_01"] {
            let seqs = readings(of: device).map(\.seq)
            #expect(seqs == (0..<UInt64(seqs.count)).map { $0 }, "\(device)")
        }
    }

    @Test func publicationsAreInDueOrder() {
        let offsets = publications.map(\.offsetMilliseconds)
        #expect(offsets == offsets.sorted())
        #expect(publications.first?.kind == .status(.online))
    }

    @Test func scheduledSpikesAppearInValuesAndGroundTruth() throws {
        let spikes = truth.spikes.filter { $0.device == "probe-1" }
        // every 2 s from 0.5 s, 300 ms long: 10 spikes of 3 readings, at exactly 20 + 10.
        #expect(spikes.count == 10)
        for (index, spike) in spikes.enumerated() {
            let start = TestSupport.start + 500 + Int64(index) * 2000
            #expect(spike.start == start && spike.end == start + 300)
            #expect(spike.value == 30 && spike.magnitude == 10 && spike.readings == 3)
            #expect(spike.firstReadingTs == start && spike.lastReadingTs == start + 200)
        }
        #expect(!truth.spikes.contains { $0.device == "probe-2" })
        let hot = readings(of: "probe-1").filter { $0.metrics["temperature"] == 30 }
        #expect(hot.count == 30)
    }

    @Test func groundTruthAgreesExactlyWithEveryValue() throws {
        try Self.checkGroundTruth(fleet: fleet, readings: readings, truth: truth, duration: Self.duration)
    }

    @Test func groundTruthAgreesOnTheDemoFleet() throws {
        let run = DemoRun.shared
        #expect(run.readings.count > 20_000)
        #expect(run.truth.spikes.count > 20)
        #expect(run.truth.offlinePeriods.count == 6)  // greenhouse-006: 2m, 7m, ..., 27m
        #expect(!run.truth.lateReadings.isEmpty)
        try Self.checkGroundTruth(fleet: run.fleet, readings: run.readings, truth: run.truth, duration: run.duration)
    }

    /// Readings inside a spike or stuck record carry exactly its value, the record's counts and
    /// first/last timestamps match, and every other reading lies in the metric's normal range.
    static func checkGroundTruth(
        fleet: FleetProfile,
        readings: [(publication: Publication, payload: TestSupport.Payload)],
        truth: GroundTruth,
        duration: Int64
    ) throws {
        let anomalies = truth.records.filter { $0.kind == .spike || $0.kind == .stuck }
        var byKey: [String: [(position: Int, record: GroundTruthRecord)]] = [:]
        for (position, record) in anomalies.enumerated() {
            byKey["\(record.device)/\(record.metric ?? "")", default: []].append((position, record))
        }
        var seen: [Int: (count: Int, first: Int64, last: Int64)] = [:]
        var failures: [String] = []  // one expectation at the end: per-reading #expect is slow in debug
        let byDevice = Dictionary(grouping: readings, by: \.publication.deviceID)
        for device in fleet.devices {
            let type = fleet.types[device.typeIndex]
            for metric in type.metrics {
                let range = metric.normalRange(durationMilliseconds: duration)
                let records = byKey["\(device.id)/\(metric.name)"] ?? []
                for reading in byDevice[device.id] ?? [] {
                    let ts = reading.payload.ts
                    guard let value = reading.payload.metrics[metric.name] else {
                        failures.append("\(device.id) at \(ts): no \(metric.name)")
                        continue
                    }
                    if let (position, record) = records.first(where: { $0.record.start! <= ts && ts < $0.record.end! }) {
                        if value != record.value { failures.append("\(device.id) \(metric.name) at \(ts): \(value)") }
                        let old = seen[position] ?? (0, .max, .min)
                        seen[position] = (old.count + 1, Swift.min(old.first, ts), Swift.max(old.last, ts))
                    } else if !range.contains(value) {
                        failures.append("\(device.id) \(metric.name)=\(value) outside \(range)")
                    }
                }
            }
        }
        for (position, record) in anomalies.enumerated() {
            let observed = seen[position] ?? (0, .max, .min)
            if observed.count != record.readings ?? 0
                || (observed.count > 0
                    && (observed.first != record.firstReadingTs || observed.last != record.lastReadingTs))
            {
                failures.append("\(record) observed \(observed)")
            }
        }
        #expect(failures == [])
        #expect(!anomalies.isEmpty)
    }

    @Test func stuckValuesFreeze() {
        let stuck = truth.stuckPeriods.filter { $0.device == "probe-2" }
        #expect(stuck.count >= 5)
        for period in stuck {
            let values = readings(of: "probe-2").filter { period.start! <= $0.ts && $0.ts < period.end! }
                .map { $0.metrics["humidity"] }
            #expect(values.count == period.readings)
            #expect(Set(values).count == 1)
        }
        // The cycle moves the humidity between stuck periods.
        #expect(Set(readings(of: "probe-2").map { $0.metrics["humidity"] }).count > 20)
    }

    @Test func offlinePeriodsProduceNoReadingsAndStatusMessages() throws {
        let periods = truth.offlinePeriods
        #expect(periods.count == 5)
        for (index, period) in periods.enumerated() {
            let start = TestSupport.start + 2500 + Int64(index) * 4000
            #expect(period.device == "probe-2" && period.start == start && period.end == start + 700)
            #expect(period.lastReadingBefore == start - 50)
            #expect(period.firstReadingAfter == start + 750)
            // No reading taken in the span...
            #expect(!readings(of: "probe-2").contains { period.start! <= $0.ts && $0.ts < period.end! })
            // ...and nothing published by the device in it, except the offline status itself.
            let published = publications.filter {
                $0.deviceID == "probe-2" && start - TestSupport.start <= $0.offsetMilliseconds
                    && $0.offsetMilliseconds < start + 700 - TestSupport.start
            }
            #expect(published.map(\.kind) == [.status(.offline)])
        }
        let statuses = publications.filter { $0.deviceID == "probe-2" && !$0.isTelemetry }.map(\.kind)
        #expect(
            statuses == [.status(.online)]
                + Array(repeating: [.status(.offline), .status(.online)], count: 5).flatMap { $0 }
        )
    }

    @Test func lateReadingsCarryOlderTimestampsAndArriveAfterNewerOnes() throws {
        let late = truth.lateReadings
        #expect(late.count >= 20)
        var overtaken = 0
        for record in late {
            let ts = try #require(record.ts)
            let publishedAt = try #require(record.publishedAt)
            #expect(publishedAt - ts >= 101)
            let position = try #require(
                publications.firstIndex {
                    $0.deviceID == record.device && $0.kind == .telemetry(seq: record.seq!, ts: ts)
                }
            )
            #expect(publications[position].offsetMilliseconds == publishedAt - TestSupport.start)
            if publications[..<position].contains(where: {
                guard $0.deviceID == record.device, case .telemetry(let seq, _) = $0.kind else { return false }
                return seq > record.seq!
            }) {
                overtaken += 1
            }
        }
        // Each late reading is overtaken by at least the next one unless that one was late too.
        #expect(overtaken >= late.count * 8 / 10)
        // Readings that are not late are published exactly when they are taken.
        let lateKeys = Set(late.map { "\($0.device)/\($0.seq!)" })
        for (publication, payload) in readings where !lateKeys.contains("\(publication.deviceID)/\(payload.seq)") {
            #expect(publication.offsetMilliseconds == payload.ts - TestSupport.start)
        }
    }

    @Test func countLimitStopsAfterExactlyThatManyReadings() {
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(readings: 777)
        )
        let publications = generator.generateAll().publications
        #expect(publications.filter(\.isTelemetry).count == 777)
        #expect(generator.readingsSampled == 777)
    }

    @Test func unboundedGeneratorKeepsGoing() {
        var generator = FleetGenerator(fleet: fleet, startMilliseconds: TestSupport.start, recordsGroundTruth: false)
        var count = 0
        while count < 50_000, generator.next() != nil { count += 1 }
        #expect(count == 50_000)
        #expect(generator.groundTruth.records.isEmpty)
    }
}
