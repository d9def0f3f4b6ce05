import Foundation
import Testing

@testable import Simulator

/// Throughput figure, not a pass/fail speed goal: run with
/// `FLUXGATE_SIM_BENCH=1 FLUXGATE_ONLY=SimulatorTests swift test -c release --scratch-path .build-sim-release
/// --filter GeneratorThroughputTests`.
/// The peer is Foundation's `JSONSerialization` encoding the same payloads (what a naive
/// simulator would do for the encoding step alone), measured in the same run.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["FLUXGATE_SIM_BENCH"] != nil))
struct GeneratorThroughputTests {
    @Test func generatorVersusFoundationEncoding() throws {
        let fleet = try PacingPlan(fleet: try TestSupport.loadFleet("demo.yaml"), targetRate: 5000).fleet
        let readings = 300_000
        let clock = ContinuousClock()
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(readings: readings),
            recordsGroundTruth: false
        )
        var bytes = 0
        var decoded: [(ts: Int64, seq: UInt64, names: [String], values: [Double])] = []
        decoded.reserveCapacity(readings)
        let generatorTime = clock.measure {
            while let publication = generator.next() { bytes += publication.payload.count }
        }
        // Inputs for the peer: the same readings' fields (generated outside the timed part).
        var again = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(readings: readings),
            recordsGroundTruth: false
        )
        while let publication = again.next() {
            guard case .telemetry(let seq, let ts) = publication.kind else { continue }
            let payload = try TestSupport.decode(publication.payload)
            let names = payload.metrics.keys.sorted()
            decoded.append((ts, seq, names, names.map { payload.metrics[$0] ?? 0 }))
        }
        var peerBytes = 0
        let peerTime = try clock.measure {
            for reading in decoded {
                var metrics: [String: Double] = [:]
                for (name, value) in zip(reading.names, reading.values) { metrics[name] = value }
                let object: [String: Any] = ["ts": reading.ts, "seq": reading.seq, "metrics": metrics]
                peerBytes += try JSONSerialization.data(withJSONObject: object).count
            }
        }
        func perSecond(_ duration: Duration) -> Double {
            Double(readings) / (Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
        }
        print(
            "generator: \(Int(perSecond(generatorTime))) readings/s (values, noise, events, heap, payload bytes); "
                + "JSONSerialization encoding alone: \(Int(perSecond(peerTime))) readings/s; "
                + "ratio \(SimulatorProgress.fixed(perSecond(generatorTime) / perSecond(peerTime), 2)); "
                + "bytes \(bytes) vs \(peerBytes)"
        )
        #expect(generator.readingsSampled == readings)
    }
}
