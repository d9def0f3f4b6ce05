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
