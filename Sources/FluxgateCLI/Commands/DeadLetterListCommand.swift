import ArgumentParser
import Foundation
import Telemetry
import Synchronization

/// `fluxgate deadletter list`: what is in the dead-letter topic, counted by reason.
struct DeadLetterListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List dead-lettered inputs, counted by reason, device or topic.",
        discussion: """
            Reads <prefix>deadletter from its oldest record to its newest (no
            consumer group, nothing committed), prints the counts of the
            matching records by --by and then the first --limit of them
            (partition, offset, time, reason, device, MQTT topic, size,
            explanation). --json prints one JSON object instead, with the
            payloads (as text, or payloadBase64 when not UTF-8).

            Examples:
              fluxgate deadletter list --kafka-brokers kafka-1:9092
              fluxgate deadletter list --reason invalid-json,bad-metric --device 'greenhouse-*'
              fluxgate deadletter list --since 2026-11-29T08:00:00Z --until 1h --by device
              fluxgate deadletter list --limit 0 --json      # counts only
            """
    )

    enum Grouping: String, ExpressibleByArgument, CaseIterable, Sendable {
        case reason, device, topic
    }

    @OptionGroup var common: CommonOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var selection: DeadLetterSelectionOptions

    @Option(help: "Count by reason, device or topic.")
    var by: Grouping = .reason

    @Option(help: "Show at most this many records (0: counts only); counts cover every match.")
    var limit: Int = 100

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "Longest time for reading the topic. [env: FLUXGATE_TIMEOUT] [default: 30s]")
    var timeout: String?

    static let settings = CommonOptions.settings + KafkaOptions.settings + [DeadLetterSettings.timeoutSetting]

    func validate() throws {
        guard limit >= 0 else { throw ValidationError("--limit must be 0 or more (0 prints the counts only).") }
    }

    func run() async throws {
        let resolver = try common.resolver(flags: kafka.flags.merging(["timeout": timeout]) { $1 }, known: Self.settings)
        let logger = try common.logger(resolver, label: "fluxgate.deadletter")
        let topics = try common.topics(resolver)
        let servers = try kafka.bootstrapServers(resolver)
        let timeout = try DeadLetterSettings.timeout(resolver)
        let selection = try selection.selection()

        let listing = DeadLetterCollector(DeadLetterListing(limit: limit))
        let reader = DeadLetterReader(bootstrapServers: servers, topic: topics.deadLetter, timeout: timeout, logger: logger)
        let summary = try await reader.scan(only: selection.partitions) { entry in
            guard selection.matches(entry) else { return }
            listing.update { $0.add(entry) }
        }
        let result = listing.value
        let output =
            json
            ? try DeadLetterOutput.listJSON(result, topic: topics.deadLetter, summary: summary)
            : DeadLetterOutput.listText(result, topic: topics.deadLetter, summary: summary, by: by)
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}

/// The matching records of a scan: counts of all, the first `limit` kept.
struct DeadLetterListing: Sendable {
    var limit: Int
    var matched = 0
    var byReason: [String: Int] = [:]
    var byDevice: [String: Int] = [:]
    var byTopic: [String: Int] = [:]
    var shown: [DeadLetterEntry] = []

    mutating func add(_ entry: DeadLetterEntry) {
        matched += 1
        byReason[entry.reason, default: 0] += 1
        byDevice[entry.device ?? "-", default: 0] += 1
        byTopic[entry.source, default: 0] += 1
        if shown.count < limit { shown.append(entry) }
    }
}

/// A value the scan's reading task updates and the command reads afterwards.
final class DeadLetterCollector<Value: Sendable>: Sendable {
    private let state: Mutex<Value>

    init(_ value: Value) { state = Mutex(value) }

    func update(_ body: (inout Value) -> Void) { state.withLock { body(&$0) } }

    var value: Value { state.withLock { $0 } }
}
