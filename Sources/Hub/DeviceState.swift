import SocketIO
import Telemetry

/// What the hub keeps about one device: latest values and a bounded recent history.
struct DeviceState: Sendable {
    struct StoredReading: Sendable {
        var ts: Int64
        var seq: UInt64?
        var json: JSONValue
    }

    struct StoredStats: Sendable {
        var start: Int64
        var end: Int64
        var json: JSONValue
    }

    struct StoredNote: Sendable {
        var id: String
        var ts: Int64
        var json: JSONValue
    }

    /// Latest status record, or nil when none is known.
    var status: DeviceStatus?
    var statusJSON: JSONValue?
    /// `ts` and `seq` of the latest reading (by event time).
    var lastSeen: Int64?
    var lastSeq: UInt64?
    /// Wall clock (epoch ms) of the latest fresh reading, for offline detection.
    var lastArrival: Int64?
    /// Latest value of every metric, in first-seen order.
    var metricNames: [String] = []
    var metricValues: [String: Double] = [:]
    /// Readings ascending by `ts` (then `seq`).
    var readings: [StoredReading] = []
    /// Latest version of each window, by key `metric|window|start`.
    var stats: [String: StoredStats] = [:]
    /// Notes ascending by `ts`.
    var notes: [StoredNote] = []
    /// Ids of this device's known alerts.
    var alertIDs: Set<String> = []

    /// Adds a reading; returns false when it is a duplicate (same `ts` and `seq`).
    mutating func add(reading: Reading, json: JSONValue, cap: Int) -> Bool {
        let stored = StoredReading(ts: reading.ts, seq: reading.seq, json: json)
        if let last = readings.last, last.ts >= reading.ts {
            // Out of order or equal time: binary search for the first later reading, then reject
            // an exact duplicate (same ts and seq) among the equal-time ones before it.
            var low = 0
            var high = readings.count
            while low < high {
                let middle = (low + high) / 2
                if readings[middle].ts > reading.ts { high = middle } else { low = middle + 1 }
            }
            var index = low
            while index > 0, readings[index - 1].ts == reading.ts {
                if readings[index - 1].seq == reading.seq { return false }
                index -= 1
            }
            readings.insert(stored, at: low)
        } else {
            readings.append(stored)
        }
        if lastSeen == nil || reading.ts >= (lastSeen ?? .min) {
            lastSeen = reading.ts
            lastSeq = reading.seq
        }
        for metric in reading.metrics {
            if metricValues.updateValue(metric.value, forKey: metric.name) == nil { metricNames.append(metric.name) }
        }
        // Amortised trimming: let the array pass the cap by 10 % before cutting.
        if readings.count > cap + max(1, cap / 10) { readings.removeFirst(readings.count - cap) }
        return true
    }

    mutating func add(stats: WindowStats, json: JSONValue, cap: Int) {
        self.stats[stats.key] = StoredStats(start: stats.start, end: stats.end, json: json)
        if self.stats.count > cap + max(1, cap / 10) {
            let keep = self.stats.sorted { $0.value.start > $1.value.start }.prefix(cap)
            self.stats = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }

    mutating func add(noteID: String, ts: Int64, json: JSONValue, cap: Int) {
        if notes.contains(where: { $0.id == noteID }) { return }
        var index = notes.count
        while index > 0, notes[index - 1].ts > ts { index -= 1 }
        notes.insert(StoredNote(id: noteID, ts: ts, json: json), at: index)
        if notes.count > cap { notes.removeFirst(notes.count - cap) }
    }

    /// Drops readings and windows that ended before `since`.
    mutating func prune(since: Int64) {
        if let first = readings.first, first.ts >= since, !stats.values.contains(where: { $0.end <= since }) { return }
        if let firstKept = readings.firstIndex(where: { $0.ts >= since }) {
            if firstKept > 0 { readings.removeFirst(firstKept) }
        } else {
            readings.removeAll()
        }
        stats = stats.filter { $0.value.end > since }
    }

    var metricsJSON: JSONValue {
        .object(metricNames.map { (key: $0, value: .number(metricValues[$0] ?? 0)) })
    }
}
