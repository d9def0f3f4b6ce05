import Foundation
import Testing

@testable import Simulator

/// Paths and helpers shared by the simulator tests.
enum TestSupport {
    /// The repository root (two levels above this file's folder).
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func devicesFile(_ name: String) -> String { root.appendingPathComponent("devices/\(name)").path }

    static func loadFleet(_ name: String) throws -> FleetProfile {
        try FleetProfileParser.load(path: devicesFile(name))
    }

    /// 2026-11-29T00:00:00Z.
    static let start: Int64 = 1_764_374_400_000

    /// A decoded telemetry payload.
    struct Payload {
        var ts: Int64
        var seq: UInt64
        var metrics: [String: Double]
        var keys: Set<String>
    }

    static func decode(_ bytes: [UInt8]) throws -> Payload {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let ts = try #require(object["ts"] as? NSNumber)
        let seq = try #require(object["seq"] as? NSNumber)
        let metrics = try #require(object["metrics"] as? [String: NSNumber])
        return Payload(
            ts: ts.int64Value,
            seq: seq.uint64Value,
            metrics: metrics.mapValues(\.doubleValue),
            keys: Set(object.keys)
        )
    }

    /// Readings only, decoded, with their publication.
    static func readings(_ publications: [Publication]) throws -> [(publication: Publication, payload: Payload)] {
        try publications.filter(\.isTelemetry).map { ($0, try decode($0.payload)) }
    }
}

/// Half an hour of the demo fleet, generated and decoded once for every suite that needs it.
struct DemoRun: Sendable {
    let fleet: FleetProfile
    let duration: Int64 = 1_800_000
    let publications: [Publication]
    let truth: GroundTruth
    let readings: [(publication: Publication, payload: TestSupport.Payload)]
    /// (device, ts, temperature) of every reading with a temperature.
    let temperatures: [(device: String, ts: Int64, value: Double)]

    static let shared = DemoRun()

    private init() {
        // The demo profile parses (FleetProfileParserTests), so `try?` only guards the tests.
        fleet = (try? TestSupport.loadFleet("demo.yaml")) ?? FleetProfile(types: [])
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 1_800_000)
        )
        (publications, truth) = generator.generateAll()
        readings = (try? TestSupport.readings(publications)) ?? []
        temperatures = readings.compactMap { reading in
            reading.payload.metrics["temperature"].map { (reading.publication.deviceID, reading.payload.ts, $0) }
        }
    }
}
