import Telemetry

/// Which dead letters a `list` or `replay` works on. Every criterion given must match; an empty
/// selection matches every record.
struct DeadLetterSelection: Sendable, Equatable {
    /// Reason codes; empty = any.
    var reasons: Set<String> = []
    /// Globs (`*`, `?`) on the device id; empty = any. A record without a device never matches a glob.
    var devices: [String] = []
    /// Globs on the MQTT topic (or `kafka:<topic>` for windowing dead letters); empty = any.
    var topics: [String] = []
    /// Dead-lettered at or after this time (epoch ms).
    var since: Int64?
    /// Dead-lettered before this time (epoch ms).
    var until: Int64?
    /// Offset ranges; empty = any.
    var offsets: [OffsetRange] = []

    /// An inclusive range of offsets in one partition: `p:o` or `p:from-to`.
    struct OffsetRange: Sendable, Hashable {
        var partition: Int
        var first: Int64
        var last: Int64

        func contains(partition: Int, offset: Int64) -> Bool {
            self.partition == partition && (first...last).contains(offset)
        }
    }

    /// Whether no criterion was given.
    var isEmpty: Bool {
        reasons.isEmpty && devices.isEmpty && topics.isEmpty && since == nil && until == nil && offsets.isEmpty
    }

    /// The partitions worth reading, `nil` for all.
    var partitions: Set<Int>? { offsets.isEmpty ? nil : Set(offsets.map(\.partition)) }

    func matches(_ entry: DeadLetterEntry) -> Bool {
        if !reasons.isEmpty, !reasons.contains(entry.reason) { return false }
        if !devices.isEmpty {
            guard let device = entry.device, devices.contains(where: { Glob.matches(pattern: $0, device) }) else { return false }
        }
        if !topics.isEmpty, !topics.contains(where: { Glob.matches(pattern: $0, entry.source) }) { return false }
        if since != nil || until != nil {
            guard let time = entry.time else { return false }
            if let since, time < since { return false }
            if let until, time >= until { return false }
        }
        if !offsets.isEmpty, !offsets.contains(where: { $0.contains(partition: entry.partition, offset: entry.offset) }) {
            return false
        }
        return true
    }
}

extension DeadLetterSelection {
    private static let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000

    /// Every reason code the stages write.
    static let knownReasons = RejectionReason.allCases.map(\.rawValue)

    /// Builds a selection from the flags' text, naming the flag and the expected form on error.
    ///
    /// - Parameter now: the current time (epoch ms), for relative times such as `2h`.
    static func parse(
        reasons: [String], devices: [String], topics: [String], since: String?, until: String?, offsets: [String],
        now: Int64
    ) throws(DeadLetterError) -> DeadLetterSelection {
        var selection = DeadLetterSelection()
        for list in reasons {
            for reason in try items(list, flag: "--reason") {
                guard knownReasons.contains(reason) || reason == "unknown" else {
                    throw DeadLetterError(
                        .invalidSelection,
                        "invalid value '\(reason)' for --reason: expected one of \(knownReasons.joined(separator: ", ")) or unknown.")
                }
                selection.reasons.insert(reason)
            }
        }
        for list in devices { selection.devices += try items(list, flag: "--device") }
        for list in topics { selection.topics += try items(list, flag: "--topic") }
        selection.since = try since.map { text throws(DeadLetterError) in try time(text, flag: "--since", now: now) }
        selection.until = try until.map { text throws(DeadLetterError) in try time(text, flag: "--until", now: now) }
        if let since = selection.since, let until = selection.until, since >= until {
            throw DeadLetterError(.invalidSelection, "--since must be before --until (now \(RFC3339.format(since)) >= \(RFC3339.format(until))).")
        }
        for list in offsets {
            for item in try items(list, flag: "--offsets") {
                selection.offsets.append(try offsetRange(item))
            }
        }
        return selection
    }

    /// Comma-separated, non-empty items.
    private static func items(_ text: String, flag: String) throws(DeadLetterError) -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        guard !items.contains(where: \.isEmpty) else {
            throw DeadLetterError(.invalidSelection, "invalid value '\(text)' for \(flag): expected a comma-separated list without empty items.")
        }
        return items
    }

    /// RFC 3339 (`2026-11-29T10:00:00Z`), epoch milliseconds, or a duration ago (`90m`, `2h`).
    static func time(_ text: String, flag: String, now: Int64) throws(DeadLetterError) -> Int64 {
        if let millis = RFC3339.parse(text) { return millis }
        if let millis = Int64(text), millis >= 0 { return millis }
        if let ago = ValueParsers.duration(text) {
            let (seconds, attoseconds) = ago.components
            return now - seconds * 1_000 - attoseconds / Self.attosecondsPerMillisecond
        }
        throw DeadLetterError(
            .invalidSelection,
            "invalid value '\(text)' for \(flag): expected an RFC 3339 time (2026-11-29T10:00:00Z), epoch milliseconds, "
                + "or a duration ago such as 30m or 2h.")
    }

    /// `partition:offset` or `partition:first-last`.
    static func offsetRange(_ text: String) throws(DeadLetterError) -> OffsetRange {
        let error = DeadLetterError(
            .invalidSelection,
            "invalid value '\(text)' for --offsets: expected partition:offset or partition:first-last, e.g. 0:17 or 2:100-199.")
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let partition = Int(parts[0]), partition >= 0 else { throw error }
        let bounds = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(bounds.count), let first = Int64(bounds[0]), first >= 0 else { throw error }
        let last = bounds.count == 2 ? Int64(bounds[1]) : first
        guard let last, last >= first else { throw error }
        return OffsetRange(partition: partition, first: first, last: last)
    }
}
