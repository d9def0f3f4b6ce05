import ArgumentParser
import Foundation
import Telemetry

/// `fluxgate deadletter`: inspect the dead-letter topic and replay what a fix made acceptable.
struct DeadLetterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletter",
        abstract: "List dead-lettered inputs by reason and replay selected ones through the ingress.",
        discussion: """
            Every input a stage rejects lands in <prefix>deadletter with its
            original bytes, a reason code (header fluxgate-error) and the MQTT
            topic it came on (header fluxgate-mqtt-topic). 'list' shows them,
            counted by reason; 'replay' re-publishes the original bytes to
            their original MQTT topic, so that they pass the ingress's
            validation again (into <prefix>readings, or back into the
            dead-letter topic if still bad). See docs/operations.md.

            Examples:
              fluxgate deadletter list --kafka-brokers kafka-1:9092
              fluxgate deadletter list --reason bad-metric --since 2h --json
              fluxgate deadletter replay --reason too-many-metrics --dry-run
              fluxgate deadletter replay --offsets 0:17,2:100-199 \\
                  --mqtt-url mqtt://broker:1883
            """,
        subcommands: [DeadLetterListCommand.self, DeadLetterReplayCommand.self]
    )
}

/// Which dead letters to work on; flags only (they describe one run, not a deployment).
struct DeadLetterSelectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Only these reason codes (comma-separated or repeated).", valueName: "code"))
    var reason: [String] = []

    @Option(help: ArgumentHelp("Only devices matching these globs (* and ?).", valueName: "glob"))
    var device: [String] = []

    @Option(help: ArgumentHelp("Only MQTT topics matching these globs, e.g. 'devices/*/status'.", valueName: "glob"))
    var topic: [String] = []

    @Option(help: ArgumentHelp("Only dead-lettered at or after this time: RFC 3339, epoch ms, or a duration ago (2h).", valueName: "time"))
    var since: String?

    @Option(help: ArgumentHelp("Only dead-lettered before this time (same forms as --since).", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Only these offsets: partition:offset or partition:first-last, comma-separated.", valueName: "ranges"))
    var offsets: [String] = []

    func selection() throws(DeadLetterError) -> DeadLetterSelection {
        try DeadLetterSelection.parse(
            reasons: reason, devices: device, topics: topic, since: since, until: until, offsets: offsets,
            now: WallClock.nowMilliseconds())
    }
}

/// The connection settings both dead-letter commands resolve.
enum DeadLetterSettings {
    static let timeoutSetting = Setting(
        "timeout", default: "30s", help: "Longest time for reading the dead-letter topic, and again for replaying.")

    static func timeout(_ resolver: ConfigurationResolver) throws -> Duration {
        try resolver.required(timeoutSetting, expected: "a duration such as 30s or 2m", ValueParsers.duration)
    }
}
