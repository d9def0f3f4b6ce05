import Foundation

/// The tables and JSON documents `fluxgate deadletter` prints.
enum DeadLetterOutput {
    /// One dead letter as JSON.
    struct Record: Codable, Equatable {
        var partition: Int
        var offset: Int64
        var time: Int64?
        var timeText: String?
        var reason: String
        var message: String?
        var device: String?
        var mqttTopic: String?
        var kafkaTopic: String?
        var size: Int
        var originalSize: Int?
        /// The payload as text when it is valid UTF-8.
        var payload: String?
        /// The payload in base64 when it is not valid UTF-8.
        var payloadBase64: String?

        init(_ entry: DeadLetterEntry, withPayload: Bool = true) {
            partition = entry.partition
            offset = entry.offset
            time = entry.time
            timeText = entry.time == nil ? nil : entry.timeText
            reason = entry.reason
            message = entry.message
            device = entry.device
            mqttTopic = entry.mqttTopic
            kafkaTopic = entry.kafkaTopic
            size = entry.payload.count
            originalSize = entry.originalSize
            if withPayload {
                if let text = String(validating: entry.payload, as: UTF8.self) {
                    payload = text
                } else {
                    payloadBase64 = Data(entry.payload).base64EncodedString()
                }
            }
        }
    }

    /// `deadletter list --json`.
    struct List: Codable, Equatable {
        var topic: String
        var partitions: Int
        var scanned: Int
        var matched: Int
        var byReason: [String: Int]
        var byDevice: [String: Int]
        var byTopic: [String: Int]
        var records: [Record]
    }

    /// `deadletter replay --json`.
    struct Replay: Codable, Equatable {
        struct Skipped: Codable, Equatable {
            var partition: Int
            var offset: Int64
            var reason: String
            var why: String
        }
        struct Failed: Codable, Equatable {
            var partition: Int
            var offset: Int64
            var error: String
        }
        var topic: String
        var dryRun: Bool
        var scanned: Int
        var matched: Int
        var published: Int
        var byReason: [String: Int]
        /// What was (or, with --dry-run, would be) re-published.
        var records: [Record]
        var skipped: [Skipped]
        var failed: [Failed]
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }

    static func listJSON(_ listing: DeadLetterListing, topic: String, summary: DeadLetterReader.Summary) throws -> String {
        try encode(
            List(
                topic: topic, partitions: summary.partitions, scanned: summary.scanned, matched: listing.matched,
                byReason: listing.byReason, byDevice: listing.byDevice, byTopic: listing.byTopic,
                records: sorted(listing.shown).map { Record($0) }))
    }

    static func listText(
        _ listing: DeadLetterListing, topic: String, summary: DeadLetterReader.Summary, by: DeadLetterListCommand.Grouping
    ) -> String {
        var text = "\(topic): \(summary.scanned) records in \(summary.partitions) partitions, \(listing.matched) match\n"
        let counts: [String: Int] =
            switch by {
            case .reason: listing.byReason
            case .device: listing.byDevice
            case .topic: listing.byTopic
            }
        if !counts.isEmpty {
            text += "\n" + table(
                [by.rawValue.uppercased(), "COUNT"],
                counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { [$0.key, String($0.value)] },
                rightAligned: [1])
        }
        if !listing.shown.isEmpty {
            let rows = sorted(listing.shown).map { entry in
                [
                    String(entry.partition), String(entry.offset), entry.timeText, entry.reason, entry.device ?? "-", entry.source,
                    entry.originalSize.map { "\(entry.payload.count)/\($0)" } ?? String(entry.payload.count),
                    String((entry.message ?? "").prefix(80)),
                ]
            }
            text += "\n" + table(["PARTITION", "OFFSET", "TIME", "REASON", "DEVICE", "SOURCE", "BYTES", "MESSAGE"], rows, rightAligned: [0, 1, 6])
            if listing.matched > listing.shown.count {
                text += "(\(listing.matched - listing.shown.count) more match; raise --limit or narrow the selection)\n"
            }
        }
        return text
    }

    static func replayText(_ replay: Replay, target: String) -> String {
        let verb = replay.dryRun ? "would re-publish" : "re-published"
        var text = "\(replay.topic): \(replay.scanned) records read, \(replay.matched) match\n"
        text += "\(verb) \(replay.dryRun ? replay.records.count : replay.published) of them to \(target)"
        text += replay.dryRun ? " (dry run: nothing was published)\n" : "\n"
        if !replay.byReason.isEmpty {
            text += "\n" + table(
                ["REASON", "COUNT"], replay.byReason.sorted { $0.key < $1.key }.map { [$0.key, String($0.value)] }, rightAligned: [1])
        }
        if !replay.records.isEmpty {
            let rows = replay.records.map { [String($0.partition), String($0.offset), $0.reason, $0.device ?? "-", $0.mqttTopic ?? "-"] }
            text += "\n" + table(["PARTITION", "OFFSET", "REASON", "DEVICE", "MQTT TOPIC"], rows, rightAligned: [0, 1])
        }
        if !replay.skipped.isEmpty {
            text += "\nskipped \(replay.skipped.count) (cannot be replayed):\n"
            text += table(
                ["PARTITION", "OFFSET", "REASON", "WHY"], replay.skipped.map { [String($0.partition), String($0.offset), $0.reason, $0.why] },
                rightAligned: [0, 1])
        }
        if !replay.failed.isEmpty {
            text += "\nfailed \(replay.failed.count) (not acknowledged by the broker; run the same replay again for them):\n"
            text += table(
                ["PARTITION", "OFFSET", "ERROR"], replay.failed.map { [String($0.partition), String($0.offset), $0.error] }, rightAligned: [0, 1])
        }
        return text
    }

    /// By partition, then offset.
    static func sorted(_ entries: [DeadLetterEntry]) -> [DeadLetterEntry] {
        entries.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// A plain text table, columns separated by two spaces.
    /// Control characters (from a device's topic or payload) are shown as `?`, so that they
    /// cannot break the table or the terminal.
    static func table(_ header: [String], _ rawRows: [[String]], rightAligned: Set<Int> = []) -> String {
        let rows = rawRows.map { row in
            row.map { cell in
                String(String.UnicodeScalarView(cell.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "?" : $0 }))
            }
        }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            var text = cells.enumerated().map { index, cell in
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                return rightAligned.contains(index) ? padding + cell : cell + padding
            }.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text + "\n"
        }
        return line(header) + rows.map(line).joined()
    }
}
