/// A position in the hub's five input topics, in a fixed order of roles: readings, stats,
/// alerts, device status, operator actions (the topic index used in ``RecoveryOffset``).
struct HubTopicLayout: Sendable, Equatable {
    /// Topic names in role order.
    var topics: [String]
    /// Partition count of each topic, same order.
    var partitionCounts: [Int]

    /// The index of `topic` in role order, or nil when the hub does not read it.
    func index(of topic: String) -> Int? { topics.firstIndex(of: topic) }

    /// Whether `frontier` has the shape of this layout (same topics, same partition counts).
    func fits(_ frontier: [[Int64]]) -> Bool {
        frontier.count == partitionCounts.count && zip(frontier, partitionCounts).allSatisfy { $0.count == $1 }
    }
}

/// The record an event came from: topic index (``HubTopicLayout`` order), partition, offset.
struct RecordPosition: Sendable, Hashable {
    var topic: Int
    var partition: Int
    var offset: Int64
}

/// The Socket.IO offset the hub attaches to every broadcast, for connection state recovery
/// across hub instances and restarts.
///
/// `frontier[t][p]` is the next offset of partition `p` of topic `t` that the emitting hub had
/// not yet broadcast when it sent the event: every record below the frontier had been handled
/// (and its events sent) before this event, every record at or past it after. A client that
/// presents the offset of the last event it got has therefore seen exactly the events of the
/// records below the frontier; whichever hub it reconnects to replays the records from the
/// frontier on. `source` is the record the event itself came from (nil for events the hub makes
/// without a record, such as `offline` after the offline timeout); the hub uses it to drop live
/// events that a replay already covered.
///
/// Text form (compact, base 36): `1~<t>.<p>.<o>~<f00>.<f01>/<f10>.<f11>/...` with `-` for no
/// source, for example `1~0.1.2s~2t.5/0.0/3.1/0.0/4.2`.
struct RecoveryOffset: Sendable, Equatable {
    var source: RecordPosition?
    var frontier: [[Int64]]

    static let version = "1"
    /// Longest offset string accepted from a client.
    static let maxLength = 16_384

    var encoded: String {
        var text = Self.version + "~"
        if let source {
            text += String(source.topic) + "." + String(source.partition) + "." + String(source.offset, radix: 36)
        } else {
            text += "-"
        }
        text += "~"
        var firstTopic = true
        for partitions in frontier {
            if !firstTopic { text += "/" }
            firstTopic = false
            var firstPartition = true
            for next in partitions {
                if !firstPartition { text += "." }
                firstPartition = false
                text += String(next, radix: 36)
            }
        }
        return text
    }

    /// Parses an offset; nil for anything this hub did not write (wrong version, bad numbers).
    static func decode(_ text: String) -> RecoveryOffset? {
        guard text.utf8.count <= maxLength else { return nil }
        let parts = text.split(separator: "~", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Substring(version) else { return nil }
        var source: RecordPosition?
        if parts[1] != "-" {
            let fields = parts[1].split(separator: ".", omittingEmptySubsequences: false)
            guard fields.count == 3, let topic = Int(fields[0]), let partition = Int(fields[1]),
                let offset = Int64(fields[2], radix: 36), topic >= 0, partition >= 0, offset >= 0
            else { return nil }
            source = RecordPosition(topic: topic, partition: partition, offset: offset)
        }
        var frontier: [[Int64]] = []
        for group in parts[2].split(separator: "/", omittingEmptySubsequences: false) {
            var partitions: [Int64] = []
            for field in group.split(separator: ".", omittingEmptySubsequences: false) {
                guard let next = Int64(field, radix: 36), next >= 0 else { return nil }
                partitions.append(next)
            }
            frontier.append(partitions)
        }
        return RecoveryOffset(source: source, frontier: frontier)
    }
}
