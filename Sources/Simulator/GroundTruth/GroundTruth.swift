import Foundation

/// What the generator injected, so tests can derive the exact expected output of later stages.
///
/// Times are epoch milliseconds; intervals are half-open `[start, end)`. Written as JSON lines,
/// one ``GroundTruthRecord`` per line, in the order the generator started them.
public struct GroundTruth: Sendable, Hashable, Codable {
    /// The records, in the order events started (late readings: in delivery order).
    public var records: [GroundTruthRecord]

    /// Creates ground truth from records.
    public init(records: [GroundTruthRecord] = []) { self.records = records }

    /// Spikes only.
    public var spikes: [GroundTruthRecord] { records.filter { $0.kind == .spike } }
    /// Stuck periods only.
    public var stuckPeriods: [GroundTruthRecord] { records.filter { $0.kind == .stuck } }
    /// Offline periods only.
    public var offlinePeriods: [GroundTruthRecord] { records.filter { $0.kind == .offline } }
    /// Late readings only.
    public var lateReadings: [GroundTruthRecord] { records.filter { $0.kind == .late } }

    /// Spikes of `metric` with at least one reading whose value (`peak`) is above `threshold`:
    /// exactly the spikes an `above: threshold` rule fires on, provided `threshold` is at least
    /// the metric's ``MetricProfile/normalRange(durationMilliseconds:)`` upper bound.
    public func spikes(of metric: String, above threshold: Double) -> [GroundTruthRecord] {
        spikes.filter { $0.metric == metric && ($0.readings ?? 0) > 0 && ($0.value ?? -.infinity) > threshold }
    }

    /// One JSON object per line (keys sorted), each line ending in `\n`.
    public func jsonLines() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var text = ""
        for record in records {
            guard let data = try? encoder.encode(record), let line = String(data: data, encoding: .utf8) else {
                continue
            }
            text += line + "\n"
        }
        return text
    }

    /// Reads JSON lines written by ``jsonLines()``; blank lines are skipped.
    public static func parse(jsonLines text: String) throws -> GroundTruth {
        let decoder = JSONDecoder()
        var records: [GroundTruthRecord] = []
        for line in text.split(separator: "\n") where !line.trimmingSpaces().isEmpty {
            records.append(try decoder.decode(GroundTruthRecord.self, from: Data(line.utf8)))
        }
        return GroundTruth(records: records)
    }
}

/// One injected event. Which fields are present depends on `kind` (see `docs/simulator.md`).
public struct GroundTruthRecord: Sendable, Hashable, Codable {
    /// What was injected.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A plateau at `value` on `metric` during `[start, end)`.
        case spike
        /// `metric` frozen at `value` during `[start, end)`.
        case stuck
        /// The device published nothing during `[start, end)`.
        case offline
        /// Reading `seq` (taken at `ts`) was published at `publishedAt`.
        case late
    }

    /// What was injected.
    public var kind: Kind
    /// The device id.
    public var device: String
    /// The metric (spike, stuck).
    public var metric: String?
    /// Start of the interval, epoch ms, inclusive (spike, stuck, offline).
    public var start: Int64?
    /// End of the interval, epoch ms, exclusive (spike, stuck, offline).
    public var end: Int64?
    /// Spike: the peak (the exact value of every reading in the spike). Stuck: the frozen value.
    public var value: Double?
    /// Spike: the configured magnitude (peak = finish(clean(start) + magnitude)).
    public var magnitude: Double?
    /// Spike, stuck: how many readings carry `value`.
    public var readings: Int?
    /// Spike, stuck: `ts` of the first such reading.
    public var firstReadingTs: Int64?
    /// Spike, stuck: `ts` of the last such reading.
    public var lastReadingTs: Int64?
    /// Offline: `ts` of the device's last reading before `start` (absent if none).
    public var lastReadingBefore: Int64?
    /// Offline: `ts` of the device's first reading at or after `end` (absent if the run ended).
    public var firstReadingAfter: Int64?
    /// Late: the reading's sequence number.
    public var seq: UInt64?
    /// Late: the reading's timestamp.
    public var ts: Int64?
    /// Late: when it was published, epoch ms.
    public var publishedAt: Int64?

    /// Creates a record.
    public init(
        kind: Kind,
        device: String,
        metric: String? = nil,
        start: Int64? = nil,
        end: Int64? = nil,
        value: Double? = nil,
        magnitude: Double? = nil,
        readings: Int? = nil,
        firstReadingTs: Int64? = nil,
        lastReadingTs: Int64? = nil,
        lastReadingBefore: Int64? = nil,
        firstReadingAfter: Int64? = nil,
        seq: UInt64? = nil,
        ts: Int64? = nil,
        publishedAt: Int64? = nil
    ) {
        self.kind = kind
        self.device = device
        self.metric = metric
        self.start = start
        self.end = end
        self.value = value
        self.magnitude = magnitude
        self.readings = readings
        self.firstReadingTs = firstReadingTs
        self.lastReadingTs = lastReadingTs
        self.lastReadingBefore = lastReadingBefore
        self.firstReadingAfter = firstReadingAfter
        self.seq = seq
        self.ts = ts
        self.publishedAt = publishedAt
    }
}
