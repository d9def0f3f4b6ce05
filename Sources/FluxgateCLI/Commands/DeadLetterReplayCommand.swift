import ArgumentParser
import Foundation
import Logging
import MQTT
import Telemetry

/// `fluxgate deadletter replay`: re-publish selected dead letters to their original MQTT topic.
struct DeadLetterReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-publish selected dead letters to their original MQTT topic, through the ingress again.",
        discussion: """
            Once the cause is fixed on the Fluxgate side (an ingress upgrade,
            a changed limit), replay sends each selected dead letter's
            original payload, byte for byte, to the MQTT topic it came on, at
            QoS 1, not retained. The ingress validates it again: accepted inputs go to
            <prefix>readings (or status), rejected ones back to the dead-letter
            topic with their reason, as new records. The dead-letter topic
            itself is not changed.

            Safe by construction: a selection is required (--all to take
            everything); the scan reads up to the newest record present at the
            start, so replays that fail again are not replayed in a loop; more
            matches than --max-records stop the run before anything is
            published; --dry-run prints what would be published and publishes
            nothing. Records the ingress cut (fluxgate-original-size) and
            records the windowing stage rejected (no MQTT topic) are skipped
            and listed. Replaying twice publishes twice: downstream, a
            replayed reading has the same device, ts and seq as any earlier
            copy.

            Exit status 0 when everything selected was published (or would be,
            with --dry-run), 1 on a bad selection, an unreachable broker or any
            publication the broker did not acknowledge.

            Examples:
              fluxgate deadletter replay --reason too-many-metrics --dry-run
              fluxgate deadletter replay --reason bad-metric --device 'greenhouse-*' --since 2h
              fluxgate deadletter replay --offsets 0:17,2:100-199 \\
                  --mqtt-url mqtt://broker:1883
              fluxgate deadletter replay --all --max-records 50000
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var mqtt: MQTTOptions
    @OptionGroup var selection: DeadLetterSelectionOptions

    @Flag(help: "Replay every dead letter (only when no selection flag narrows it).")
    var all = false

    @Flag(help: "Print what would be re-published; publish nothing.")
    var dryRun = false

    @Option(help: "Refuse to replay when more records than this match (nothing is published then).")
    var maxRecords: Int = 1_000

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "Longest time for reading the topic, and again for publishing. [env: FLUXGATE_TIMEOUT] [default: 30s]")
    var timeout: String?

    static let defaultClientID = MQTTOptions.defaultClientID("deadletter")
    static let settings = CommonOptions.settings + KafkaOptions.settings + MQTTOptions.settings(defaultClientID: defaultClientID)
        + [DeadLetterSettings.timeoutSetting]

    func validate() throws {
        guard maxRecords >= 1 else { throw ValidationError("--max-records must be at least 1.") }
    }

    func run() async throws {
        let resolver = try common.resolver(
            flags: kafka.flags.merging(mqtt.flags) { $1 }.merging(["timeout": timeout]) { $1 }, known: Self.settings)
        let logger = try common.logger(resolver, label: "fluxgate.deadletter")
        let topics = try common.topics(resolver)
        let servers = try kafka.bootstrapServers(resolver)
        let timeout = try DeadLetterSettings.timeout(resolver)
        var mqttConfiguration = try mqtt.configuration(resolver, defaultClientID: Self.defaultClientID)
        mqttConfiguration.acknowledgement = .automatic
        mqttConfiguration.cleanStart = true
        let selection = try selection.selection()
        if selection.isEmpty && !all {
            throw DeadLetterError(
                .invalidSelection,
                "replay needs a selection: --reason, --device, --topic, --since, --until or --offsets "
                    + "(see 'fluxgate deadletter list'), or --all for every dead letter.")
        }
        if !selection.isEmpty && all {
            throw DeadLetterError(.invalidSelection, "--all replays every dead letter: leave it out when you select with other flags.")
        }

        let maxRecords = self.maxRecords
        let collected = DeadLetterCollector(DeadLetterReplayPlan())
        let reader = DeadLetterReader(bootstrapServers: servers, topic: topics.deadLetter, timeout: timeout, logger: logger)
        let summary = try await reader.scan(only: selection.partitions) { entry in
            guard selection.matches(entry) else { return }
            collected.update { $0.add(entry, keepAtMost: maxRecords) }
        }
        let plan = collected.value
        if plan.replayableCount > maxRecords {
            throw DeadLetterError(
                .tooManyRecords,
                "\(plan.replayableCount) dead letters match, more than --max-records \(maxRecords); nothing was published. "
                    + "Narrow the selection (--reason, --device, --topic, --since, --until, --offsets) or raise --max-records.")
        }

        let entries = DeadLetterOutput.sorted(plan.replayable)
        var failed: [DeadLetterOutput.Replay.Failed] = []
        if !dryRun && !entries.isEmpty {
            let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
            failed = try await DeadLetterReplayer(client: client, timeout: timeout, logger: logger).publish(entries)
        }
        let failedOffsets = Set(failed.map { "\($0.partition):\($0.offset)" })
        var byReason: [String: Int] = [:]
        for entry in entries where !failedOffsets.contains("\(entry.partition):\(entry.offset)") {
            byReason[entry.reason, default: 0] += 1
        }
        let report = DeadLetterOutput.Replay(
            topic: topics.deadLetter, dryRun: dryRun, scanned: summary.scanned, matched: plan.matched,
            published: dryRun ? 0 : entries.count - failed.count, byReason: byReason,
            records: entries.map { DeadLetterOutput.Record($0, withPayload: json) },
            skipped: DeadLetterOutput.sorted(plan.skipped).map {
                .init(partition: $0.partition, offset: $0.offset, reason: $0.reason, why: $0.notReplayable ?? "")
            },
            failed: failed)
        let target = "mqtt://\(mqttConfiguration.host):\(mqttConfiguration.port)"
        let output = json ? try DeadLetterOutput.encode(report) : DeadLetterOutput.replayText(report, target: target)
        FileHandle.standardOutput.write(Data(output.utf8))
        logger.info(
            "replay done",
            metadata: [
                "dry-run": "\(dryRun)", "matched": "\(plan.matched)", "published": "\(report.published)",
                "skipped": "\(plan.skipped.count)", "failed": "\(failed.count)",
            ])
        if !failed.isEmpty {
            throw DeadLetterError(
                .publishFailed, "\(failed.count) of \(entries.count) publications were not acknowledged by the broker at \(target).")
        }
    }
}

/// The matches of a replay scan: what can be replayed (at most `keepAtMost` + 1 kept, enough to
/// know the limit is exceeded) and what cannot.
struct DeadLetterReplayPlan: Sendable {
    var matched = 0
    var replayableCount = 0
    var replayable: [DeadLetterEntry] = []
    var skipped: [DeadLetterEntry] = []

    mutating func add(_ entry: DeadLetterEntry, keepAtMost limit: Int) {
        matched += 1
        if entry.notReplayable != nil {
            if skipped.count < limit { skipped.append(entry) }
            return
        }
        replayableCount += 1
        if replayable.count <= limit { replayable.append(entry) }
    }
}
