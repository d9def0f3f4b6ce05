import Foundation
import FluxgateTesting
import Testing

/// The built executable with a bad value for a representative set of options of every
/// subcommand: it stops at start-up, before connecting or listening, with exit status 1 and a
/// message that names the setting, where the value came from and what to write instead; never a
/// crash or a stack trace.
@Suite("bad configuration stops start-up with a clear message (the built executable)")
struct ConfigurationValidationTests {
    /// One bad start: arguments, extra environment, a configuration file's text (passed with
    /// --config), and what stderr must say.
    struct Case: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var environment: [String: String] = [:]
        var file: String?
        var message: String
        var status: Int32 = 1

        var testDescription: String {
            (arguments + environment.map { "\($0)=\($1)" } + (file.map { ["--config <\($0)>"] } ?? [])).joined(separator: " ")
        }
    }

    static let kafka = ["--kafka-brokers", "127.0.0.1:9"]

    static let cases: [Case] = [
        // Common options, through each source.
        Case(arguments: ["ingress"], message: "kafka-brokers is required: pass --kafka-brokers, set FLUXGATE_KAFKA_BROKERS or add 'kafka-brokers:' to the configuration file"),
        Case(arguments: ["ingress", "--kafka-brokers", "kafka-1"], message: "invalid value 'kafka-1' for kafka-brokers (from flag --kafka-brokers): expected host:port[,host:port...]."),
        Case(arguments: ["windowing"], environment: ["FLUXGATE_KAFKA_BROKERS": "a:1,,b:2"], message: "invalid value 'a:1,,b:2' for kafka-brokers (from environment variable FLUXGATE_KAFKA_BROKERS)"),
        Case(arguments: ["hub"] + kafka, environment: ["FLUXGATE_LOG_LEVEL": "loud"], message: "invalid value 'loud' for log-level (from environment variable FLUXGATE_LOG_LEVEL): expected trace, debug, info"),
        Case(arguments: ["dev-kafka", "--kafka-topic-prefix", "my prefix"], message: "invalid value 'my prefix' for kafka-topic-prefix (from flag --kafka-topic-prefix): expected letters, digits"),
        Case(arguments: ["ingress", "--config", "/nonexistent/fluxgate.yaml"], message: "cannot read the configuration file /nonexistent/fluxgate.yaml: check the path and permissions."),
        Case(arguments: ["hub"], environment: ["FLUXGATE_CONFIG": "/nonexistent/hub.yaml"], message: "cannot read the configuration file /nonexistent/hub.yaml"),
        Case(arguments: ["hub"] + kafka, file: "http-prot: 8080\n", message: "unknown setting 'http-prot'. Did you mean http-port?"),
        Case(arguments: ["windowing"], file: "- just\n- a list\n", message: "must be a YAML mapping of setting names to values"),
        Case(arguments: ["windowing"], file: "kafka-brokers: [a:1, {b: 2}]\n", message: "'kafka-brokers' must be a single value or a list of values."),
        Case(arguments: ["hub"] + kafka, file: "http-port: eighty\n", message: "invalid value 'eighty' for http-port (from key 'http-port' in"),
        // MQTT options.
        Case(arguments: ["ingress"] + kafka + ["--mqtt-url", "http://broker"], message: "invalid value 'http://broker' for mqtt-url (from flag --mqtt-url): expected mqtt://host[:port] or mqtts://host[:port]."),
        Case(arguments: ["ingress"] + kafka + ["--mqtt-client-id", "ingress/1"], message: "invalid value 'ingress/1' for mqtt-client-id (from flag --mqtt-client-id): expected 1-64 letters, digits, '_' or '-'."),
        Case(arguments: ["simulate"], environment: ["FLUXGATE_MQTT_SESSION_EXPIRY": "forever"], message: "invalid value 'forever' for mqtt-session-expiry (from environment variable FLUXGATE_MQTT_SESSION_EXPIRY): expected a duration"),
        Case(arguments: ["ingress"] + kafka + ["--mqtt-session-expiry", "2000000h"], message: "invalid value '2000000h' for mqtt-session-expiry (from flag --mqtt-session-expiry): expected a duration such as 30m or 1h, at most 4294967295s"),
        Case(arguments: ["simulate", "--mqtt-protocol", "3"], message: "invalid value '3' for mqtt-protocol (from flag --mqtt-protocol): expected 5 or 3.1.1."),
        // ingress
        Case(arguments: ["ingress"] + kafka + ["--http-port", "70000"], message: "invalid value '70000' for http-port (from flag --http-port): expected a port number 0-65535."),
        Case(arguments: ["ingress"] + kafka + ["--share-group", "a/b"], message: "invalid value 'a/b' for share-group (from flag --share-group): expected a name of letters, digits, '_' or '-', or 'none'."),
        Case(arguments: ["ingress"] + kafka + ["--kafka-linger", "0ms"], message: "invalid value '0ms' for kafka-linger (from flag --kafka-linger): expected a duration from 1ms to 1s, such as 5ms."),
        Case(arguments: ["ingress"] + kafka + ["--kafka-linger", "2s"], message: "invalid value '2s' for kafka-linger (from flag --kafka-linger): expected a duration from 1ms to 1s, such as 5ms."),
        // windowing
        Case(arguments: ["windowing"] + kafka + ["--rules", "/nonexistent/rules.yaml"], message: "cannot read the rules file '/nonexistent/rules.yaml' (from flag --rules)"),
        Case(arguments: ["windowing"] + kafka + ["--stats-update-interval", "5"], message: "invalid value '5' for stats-update-interval (from flag --stats-update-interval): expected a duration such as 500ms, 5s or 1m, or 'off'."),
        Case(arguments: ["windowing"] + kafka, environment: ["FLUXGATE_HTTP_PORT": "http"], message: "invalid value 'http' for http-port (from environment variable FLUXGATE_HTTP_PORT)"),
        // hub
        Case(arguments: ["hub"] + kafka + ["--offline-timeout", "0s"], message: "invalid value '0s' for offline-timeout (from flag --offline-timeout): expected a duration such as 30s."),
        Case(arguments: ["hub"] + kafka + ["--instance-id", String(repeating: "h", count: 65)], message: "for instance-id (from flag --instance-id): expected 1 to 64 characters."),
        Case(arguments: ["hub"] + kafka + ["--tokens", "a,,b"], message: "invalid value 'a,,b' for tokens (from flag --tokens): expected token[,token...]."),
        Case(arguments: ["hub"] + kafka + ["--allowed-origins", "https://a.example,"], message: "for allowed-origins (from flag --allowed-origins): expected scheme://host[:port][,...]."),
        Case(arguments: ["hub"] + kafka + ["--allowed-origins", "https://a.example/path"], message: "for allowed-origins (from flag --allowed-origins): expected scheme://host[:port][,...]."),
        Case(arguments: ["hub"] + kafka + ["--dashboards-dir", "/no/such/folder"], message: "for dashboards-dir (from flag --dashboards-dir): expected an existing folder"),
        // dev-kafka
        Case(arguments: ["dev-kafka", "--broker-count", "0"], message: "invalid value '0' for broker-count (from flag --broker-count): expected a number from 1 to 16."),
        Case(arguments: ["dev-kafka"], environment: ["FLUXGATE_PARTITIONS": "1000"], message: "invalid value '1000' for partitions (from environment variable FLUXGATE_PARTITIONS): expected a number from 1 to 256."),
        // simulate
        Case(arguments: ["simulate", "--rate", "0"], message: "invalid value '0.0' for rate (from flag --rate): expected a number of readings per second > 0."),
        Case(arguments: ["simulate"], environment: ["FLUXGATE_SEED": "-1"], message: "invalid value '-1' for seed (from environment variable FLUXGATE_SEED)"),
        Case(arguments: ["simulate", "--count", "0"], message: "invalid value '0' for count (from flag --count): expected a whole number > 0."),
        Case(arguments: ["simulate", "--duration", "0s"], message: "invalid value '0s' for duration (from flag --duration)"),
        Case(arguments: ["simulate", "--max-in-flight", "0"], message: "invalid value '0' for max-in-flight (from flag --max-in-flight): expected a number from 1 to 65535."),
        Case(arguments: ["simulate", "--ground-truth", "/tmp/never-written.jsonl"], message: "ground-truth needs a bounded run: add --duration or --count."),
        Case(arguments: ["simulate", "--fleet", "/nonexistent/fleet.yaml"], message: "fleet profile:"),
        // demo: checked before mosquitto or the dev cluster start.
        Case(arguments: ["demo", "--http-port", "70000"], message: "invalid value '70000' for http-port (from flag --http-port): expected a port number 0-65535."),
        Case(arguments: ["demo"], environment: ["FLUXGATE_RATE": "fast"], message: "invalid value 'fast' for rate (from environment variable FLUXGATE_RATE)"),
        Case(arguments: ["demo", "--fleet", "/nonexistent/fleet.yaml"], message: "fleet profile:"),
        // deadletter (more in Commands/DeadLetterCommandTests.swift)
        Case(arguments: ["deadletter", "list"] + kafka + ["--timeout", "1"], message: "invalid value '1' for timeout (from flag --timeout): expected a duration such as 30s or 2m."),
        Case(arguments: ["deadletter", "replay", "--reason", "bad-metric"] + kafka, environment: ["FLUXGATE_MQTT_URL": "broker:1883"], message: "invalid value 'broker:1883' for mqtt-url (from environment variable FLUXGATE_MQTT_URL)"),
        // Values the command-line parser itself rejects: exit status 64 with the usage.
        Case(arguments: ["hub", "--http-port", "abc"], message: "The value 'abc' is invalid for '--http-port <http-port>'", status: 64),
        Case(arguments: ["simulate", "--seed", "-1"], message: "--seed", status: 64),
        Case(arguments: ["ingress", "--kafka-broker", "a:1"], message: "Unknown option '--kafka-broker'", status: 64),
    ]

    @Test("stops at start-up with exit status 1 and the message", .timeLimit(.minutes(3)), arguments: cases)
    func badValue(_ bad: Case) async throws {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLUXGATE_") }
        environment.merge(bad.environment) { $1 }
        var arguments = bad.arguments
        var file: URL?
        if let text = bad.file {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-config-test-\(UUID().uuidString).yaml")
            try text.write(to: url, atomically: true, encoding: .utf8)
            file = url
            arguments += ["--config", url.path]
        }
        defer { file.map { try? FileManager.default.removeItem(at: $0) } }
        let child = try ChildProcess.spawn(try BuiltExecutable.path("fluxgate"), arguments: arguments, environment: environment)
        defer { child.kill() }
        // A value that slipped through would start the stage: it would still be running.
        let status = try await child.waitForExit(timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(100))
        let stderr = child.errorLines.joined(separator: "\n")
        #expect(status == bad.status, "stderr: \(stderr)")
        #expect(stderr.contains(bad.message), "stderr: \(stderr)")
        #expect(!stderr.contains("Fatal error") && !stderr.contains("Stack dump") && !stderr.contains("Current stack trace"))
        if bad.status == 1 {
            // One line: the message, not the usage or a log of a stage that started.
            #expect(child.errorLines.count == 1, "stderr: \(stderr)")
            #expect(stderr.hasPrefix("Error: "), "stderr: \(stderr)")
        }
    }
}
