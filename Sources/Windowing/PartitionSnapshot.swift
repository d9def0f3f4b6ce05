import Foundation
import Telemetry

/// The state of one readings partition, as written to the changelog topic: the aggregator and
/// evaluator after every record of the partition below ``nextOffset``.
public struct PartitionSnapshot: Sendable, Codable {
    /// Format version; a snapshot of an unknown version is ignored (the partition replays).
    public var version = 1
    /// The readings topic.
    public var topic: String
    /// The readings partition.
    public var partition: Int
    /// The first offset not yet in the state; `nil` when no record has been applied.
    public var nextOffset: Int64?
    /// The greatest arrival time (epoch ms, `fluxgate-received-at`) of the records applied:
    /// the partition's clock restarts from it after a restore (see ``PartitionProcessor``).
    public var maxArrivedAt: Int64?
    /// Windows of the partition's devices.
    public var aggregator: WindowAggregator
    /// Alert state of the partition's devices.
    public var evaluator: AlertEvaluator

    /// The changelog key of a readings partition: `<topic>/<partition>`.
    public static func key(topic: String, partition: Int) -> String { "\(topic)/\(partition)" }

    /// Encodes the snapshot as JSON (non-finite doubles, which the state uses as "none yet",
    /// as the strings `nan`, `inf`, `-inf`).
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Array(try encoder.encode(self))
    }

    /// Decodes a snapshot; `nil` for bytes that are not a snapshot of this version.
    public static func decode(_ bytes: [UInt8]) -> PartitionSnapshot? {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let snapshot = try? decoder.decode(PartitionSnapshot.self, from: Data(bytes)),
            snapshot.version == 1
        else { return nil }
        return snapshot
    }
}
