import Foundation
import FluxgateTesting
import Ingress
import Kafka
import Logging
import MQTT
import ServiceLifecycle
import Telemetry
import Testing

@testable import FluxgateCLI

/// `fluxgate deadletter list` and `replay` (the built executable) against a real mosquitto, the
/// dev Kafka cluster over TCP and the ingress.
@Suite("fluxgate deadletter (the built executable) with mosquitto, the dev cluster and the ingress", .serialized)
struct DeadLetterCommandTests {
    static let partitions = 2
    let topics = FluxgateTopics(prefix: "dlt.")

    let logger: Logger = {
        var logger = Logger(label: "deadletter-test") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = ProcessInfo.processInfo.environment["FLUXGATE_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
        return logger
    }()

    /// One reading's payload with `metrics` metrics.
    static func reading(seq: Int, metrics: Int) -> String {
        let values = (0..<metrics).map { "\"m\($0)\": \(Double($0) + 0.5)" }.joined(separator: ", ")
        return #"{"ts": 1764400000000, "seq": \#(seq), "metrics": {\#(values)}}"#
    }

    /// An ingress writing to `topics`; `maxMetrics` below the contract's 64 stands for a bug.
    /// `ready` is set once the ingress has subscribed.
    func makeIngress(
        _ broker: MosquittoBroker, _ cluster: DevKafkaCluster, maxMetrics: Int, ready: DeadLetterCollector<Bool>
    ) throws -> [any Service] {
        var producerConfiguration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServerList)
        producerConfiguration.additionalProperties["reconnect.backoff.max.ms"] = "500"
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        var mqttConfiguration = MQTTConfiguration(host: broker.host, port: broker.port, clientID: "deadletter-test-ingress")
        mqttConfiguration.cleanStart = false
        mqttConfiguration.sessionExpiry = .seconds(600)
        let client = try MQTTClient(configuration: mqttConfiguration, logger: logger)
        var configuration = IngressConfiguration()
        configuration.topics = topics
        configuration.limits.maxMetrics = maxMetrics
        let ingress = IngressService(configuration: configuration, mqtt: client, producer: producer, logger: logger) {
            ready.update { $0 = true }
        }
        return [producer, ingress]
    }

    /// Every record of `topic` (read with the command's own reader).
    func records(_ cluster: DevKafkaCluster, _ topic: String) async throws -> [DeadLetterEntry] {
        let reader = DeadLetterReader(bootstrapServers: cluster.bootstrapServerList, topic: topic, timeout: .seconds(30), logger: logger)
        let collected = DeadLetterCollector([DeadLetterEntry]())
        _ = try await reader.scan { entry in collected.update { $0.append(entry) } }
        return collected.value
    }

    /// How many records `topic` holds.
    func count(_ cluster: DevKafkaCluster, _ topic: String) async throws -> Int64 {
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServerList, logger: logger)
        var total: Int64 = 0
        for partition in 0..<Self.partitions {
            let marks = try await admin.watermarks(topic: topic, partition: partition)
            total += marks.high - marks.low
        }
        return total
    }

    /// Runs `fluxgate deadletter <arguments>` to its end: exit status, stdout, stderr.
    func fluxgate(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess.spawn(try BuiltExecutable.path("fluxgate"), arguments: ["deadletter"] + arguments)
        defer { child.kill() }
        let status = try await child.waitForExit(timeout: .seconds(90))
        // The output handlers may still be reading the last lines.
        try await Task.sleep(for: .milliseconds(100))
        return (status, child.outputLines.joined(separator: "\n"), child.errorLines.joined(separator: "\n"))
    }

    func publish(_ publisher: MQTTClient, _ messages: [(String, String)]) async throws {
        for (topic, payload) in messages {
            try await publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce)
        }
    }

    @Test("malformed inputs land in the dead-letter topic; list counts them by reason; replay after a fix reaches the readings, still-bad ones come back, dry run and refused runs publish nothing", .timeLimit(.minutes(5)))
    func listAndReplayThroughTheIngress() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        for topic in topics.all {
            try cluster.createTopic(topic, partitions: Self.partitions)
        }
        var publisherConfiguration = MQTTConfiguration(host: broker.host, port: broker.port, clientID: "deadletter-test-publisher")
        publisherConfiguration.acknowledgement = .automatic
        let publisher = try MQTTClient(configuration: publisherConfiguration, logger: logger)
        let kafka = ["--kafka-brokers", cluster.bootstrapServers, "--kafka-topic-prefix", topics.prefix]
        let mqtt = ["--mqtt-url", broker.url, "--mqtt-client-id", "deadletter-test-replay"]

        try await whileRunning([publisher], logger: logger) {
            // 1. An ingress with a bug (at most 2 metrics) dead-letters the 3-metric readings.
            let strictReady = DeadLetterCollector(false)
            try await whileRunning(try makeIngress(broker, cluster, maxMetrics: 2, ready: strictReady), logger: logger) {
                // Its first session: what is published before it subscribes is not kept for it.
                try await waitUntil(30, "the ingress subscribed") { strictReady.value }
                try await publish(publisher, [
                    ("devices/dev-a/telemetry", Self.reading(seq: 1, metrics: 1)),
                    ("devices/dev-a/telemetry", Self.reading(seq: 2, metrics: 3)),
                    ("devices/dev-a/telemetry", Self.reading(seq: 3, metrics: 3)),
                    ("devices/dev-b/telemetry", Self.reading(seq: 1, metrics: 2)),
                    ("devices/dev-b/telemetry", "{not json"),
                    ("devices/dev-c/telemetry", Self.reading(seq: 1, metrics: 3)),
                    ("devices/dev-d/telemetry", "[1, 2"),
                    ("devices/dev-e/telemetry", #"{"metrics": {"t": 1}}"#),
                ])
                try await waitUntil(60, "6 dead letters and 2 readings") {
                    let deadLetters = try await count(cluster, topics.deadLetter)
                    let readings = try await count(cluster, topics.readings)
                    return deadLetters == 6 && readings == 2
                }
            }

            // 2. list: counts by reason, the records with their payloads and topics.
            let listed = try await fluxgate(["list", "--json"] + kafka)
            #expect(listed.status == 0, "stderr: \(listed.stderr)")
            let list = try JSONDecoder().decode(DeadLetterOutput.List.self, from: Data(listed.stdout.utf8))
            #expect(list.byReason == ["too-many-metrics": 3, "invalid-json": 2, "missing-ts": 1])
            #expect(list.scanned == 6 && list.matched == 6 && list.records.count == 6)
            #expect(list.byDevice == ["dev-a": 2, "dev-b": 1, "dev-c": 1, "dev-d": 1, "dev-e": 1])
            let notJSON = try #require(list.records.first { $0.device == "dev-b" })
            #expect(notJSON.payload == "{not json" && notJSON.reason == "invalid-json")
            #expect(notJSON.mqttTopic == "devices/dev-b/telemetry" && notJSON.message?.isEmpty == false)

            let table = try await fluxgate(["list", "--reason", "too-many-metrics"] + kafka)
            #expect(table.status == 0, "stderr: \(table.stderr)")
            #expect(table.stdout.contains("6 records in 2 partitions, 3 match"), "\(table.stdout)")
            #expect(table.stdout.contains("too-many-metrics") && !table.stdout.contains("invalid-json"), "\(table.stdout)")
            #expect(table.stdout.components(separatedBy: "devices/dev-a/telemetry").count - 1 == 2, "\(table.stdout)")

            let byDevice = try await fluxgate(["list", "--json", "--device", "dev-a*,dev-x", "--topic", "devices/*/telemetry"] + kafka)
            let devices = try JSONDecoder().decode(DeadLetterOutput.List.self, from: Data(byDevice.stdout.utf8))
            #expect(devices.matched == 2 && devices.byReason == ["too-many-metrics": 2])

            let future = try await fluxgate(["list", "--json", "--since", "2099-01-01T00:00:00Z"] + kafka)
            #expect(try JSONDecoder().decode(DeadLetterOutput.List.self, from: Data(future.stdout.utf8)).matched == 0)
            let recent = try await fluxgate(["list", "--json", "--since", "1h", "--until", "2099-01-01T00:00:00Z"] + kafka)
            #expect(try JSONDecoder().decode(DeadLetterOutput.List.self, from: Data(recent.stdout.utf8)).matched == 6)

            // 3. The fix: an ingress with the contract's limits.
            // (Its persistent session keeps what is published before it subscribes again.)
            try await whileRunning(try makeIngress(broker, cluster, maxMetrics: 64, ready: DeadLetterCollector(false)), logger: logger) {
                let dryRun = try await fluxgate(["replay", "--reason", "too-many-metrics", "--dry-run", "--json"] + kafka + mqtt)
                #expect(dryRun.status == 0, "stderr: \(dryRun.stderr)")
                let planned = try JSONDecoder().decode(DeadLetterOutput.Replay.self, from: Data(dryRun.stdout.utf8))
                #expect(planned.dryRun && planned.published == 0 && planned.records.count == 3 && planned.matched == 3)

                let refused = try await fluxgate(["replay", "--reason", "too-many-metrics", "--max-records", "2"] + kafka + mqtt)
                #expect(refused.status == 1)
                #expect(refused.stderr.contains("3 dead letters match, more than --max-records 2; nothing was published"), "\(refused.stderr)")

                let replayed = try await fluxgate(["replay", "--reason", "too-many-metrics"] + kafka + mqtt)
                #expect(replayed.status == 0, "stderr: \(replayed.stderr)")
                #expect(replayed.stdout.contains("re-published 3 of them to \(broker.url)"), "\(replayed.stdout)")

                // Still bad: back into the dead-letter topic as new records.
                let offsets = list.records.filter { $0.reason == "invalid-json" }.map { "\($0.partition):\($0.offset)" }
                let again = try await fluxgate(["replay", "--json", "--offsets", offsets.joined(separator: ",")] + kafka + mqtt)
                #expect(again.status == 0, "stderr: \(again.stderr)")
                let report = try JSONDecoder().decode(DeadLetterOutput.Replay.self, from: Data(again.stdout.utf8))
                #expect(report.published == 2 && report.byReason == ["invalid-json": 2] && report.failed.isEmpty)

                // A marker after everything: once it is in, whatever the runs above published is too.
                try await publisher.publish(topic: "devices/dev-z/telemetry", payload: Self.reading(seq: 1, metrics: 1), qos: .atLeastOnce)
                try await waitUntil(60, "the marker reading") {
                    try await records(cluster, topics.readings).contains { $0.device == "dev-z" }
                }
            }
            let readings = try await records(cluster, topics.readings)
            // 2 before, 3 replayed, the marker; nothing from the dry run or the refused run.
            #expect(readings.count == 6, "\(readings.map { String(decoding: $0.payload, as: UTF8.self) })")
            let replayedReadings = readings.filter { String(decoding: $0.payload, as: UTF8.self).contains("\"m2\"") }
            #expect(Set(replayedReadings.compactMap(\.device)) == ["dev-a", "dev-c"] && replayedReadings.count == 3)
            let deadLetters = try await records(cluster, topics.deadLetter)
            #expect(deadLetters.count == 8)
            #expect(deadLetters.filter { $0.reason == "invalid-json" }.count == 4)
        }
    }

    @Test("records that cannot be replayed (cut by the ingress, rejected by the windowing stage) are skipped, listed and not published", .timeLimit(.minutes(3)))
    func unreplayableRecordsAreSkipped() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic(topics.deadLetter, partitions: Self.partitions)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServerList), logger: logger)
        var subscriberConfiguration = MQTTConfiguration(host: broker.host, port: broker.port, clientID: "deadletter-test-witness")
        subscriberConfiguration.acknowledgement = .automatic
        let witness = try MQTTClient(configuration: subscriberConfiguration, logger: logger)
        let seen = DeadLetterCollector([String]())

        try await whileRunning([producer, witness], logger: logger) {
            func header(_ key: String, _ value: String) -> KafkaHeader { KafkaHeader(key: key, string: value) }
            let results = try await producer.send(batch: [
                KafkaProducerRecord(
                    topic: topics.deadLetter, key: "dev-s", value: Array("{ok?".utf8),
                    headers: [header("fluxgate-error", "invalid-json"), header("fluxgate-mqtt-topic", "devices/dev-s/telemetry")]),
                KafkaProducerRecord(
                    topic: topics.deadLetter, key: "dev-s", value: Array("{cut".utf8),
                    headers: [
                        header("fluxgate-error", "too-large"), header("fluxgate-mqtt-topic", "devices/dev-s/telemetry"),
                        header("fluxgate-original-size", "700000"),
                    ]),
                KafkaProducerRecord(
                    topic: topics.deadLetter, key: "dev-s", value: Array(#"{"device":"dev-s"}"#.utf8),
                    headers: [header("fluxgate-error", "late-reading"), header("fluxgate-kafka-topic", topics.readings)]),
            ])
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            try await witness.subscribe("devices/#", qos: .atLeastOnce)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await batch in witness.messages {
                        seen.update { $0 += batch.messages.map { "\($0.topic) \($0.payloadString)" } }
                    }
                }
                defer { group.cancelAll() }
                let kafka = ["--kafka-brokers", cluster.bootstrapServers, "--kafka-topic-prefix", topics.prefix]
                let result = try await fluxgate(["replay", "--all", "--json", "--mqtt-url", broker.url] + kafka)
                #expect(result.status == 0, "stderr: \(result.stderr)")
                let report = try JSONDecoder().decode(DeadLetterOutput.Replay.self, from: Data(result.stdout.utf8))
                #expect(report.matched == 3 && report.published == 1 && report.records.map(\.reason) == ["invalid-json"])
                #expect(Set(report.skipped.map(\.reason)) == ["too-large", "late-reading"])
                #expect(report.skipped.first { $0.reason == "too-large" }?.why.contains("cut to 4 of 700000 bytes") == true)
                #expect(report.skipped.first { $0.reason == "late-reading" }?.why.contains("did not come from MQTT") == true)

                // A marker after the replay: once the witness has it, it has whatever the replay sent.
                try await witness.publish(topic: "devices/marker/telemetry", payload: "end", qos: .atLeastOnce)
                try await waitUntil(30, "the marker") { seen.value.contains("devices/marker/telemetry end") }
                #expect(seen.value == ["devices/dev-s/telemetry {ok?", "devices/marker/telemetry end"])
            }
        }
    }

    @Test("an unreachable broker: the replay stops after --timeout, reports every record as not acknowledged, exits 1", .timeLimit(.minutes(2)))
    func unreachableBroker() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic(topics.deadLetter, partitions: Self.partitions)
        let producer = try KafkaProducer(configuration: .init(bootstrapServers: cluster.bootstrapServerList), logger: logger)
        try await whileRunning([producer], logger: logger) {
            _ = try await producer.send(
                KafkaProducerRecord(
                    topic: topics.deadLetter, key: "dev-u", value: Array("{".utf8),
                    headers: [KafkaHeader(key: "fluxgate-error", string: "invalid-json"), KafkaHeader(key: "fluxgate-mqtt-topic", string: "devices/dev-u/telemetry")]))
        }
        let port = try FreePort.next()
        let result = try await fluxgate(
            ["replay", "--reason", "invalid-json", "--timeout", "2s", "--mqtt-url", "mqtt://127.0.0.1:\(port)", "--kafka-brokers", cluster.bootstrapServers,
             "--kafka-topic-prefix", topics.prefix])
        #expect(result.status == 1)
        #expect(result.stdout.contains("re-published 0 of them"), "\(result.stdout)")
        #expect(result.stdout.contains("failed 1") && result.stdout.contains("not acknowledged within --timeout 2s"), "\(result.stdout)")
        #expect(result.stderr.contains("1 of 1 publications were not acknowledged by the broker at mqtt://127.0.0.1:\(port)"), "\(result.stderr)")
    }

    @Test(
        "bad arguments stop with a clear message and exit status 1, before touching Kafka or MQTT",
        .timeLimit(.minutes(2)),
        arguments: [
            (["replay", "--kafka-brokers", "127.0.0.1:9"], "replay needs a selection"),
            (["replay", "--all", "--reason", "bad-metric", "--kafka-brokers", "127.0.0.1:9"], "--all replays every dead letter"),
            (["list", "--reason", "nonsense", "--kafka-brokers", "127.0.0.1:9"], "invalid value 'nonsense' for --reason: expected one of invalid-json"),
            (["list", "--since", "yesterday", "--kafka-brokers", "127.0.0.1:9"], "invalid value 'yesterday' for --since"),
            (["list", "--since", "1h", "--until", "2h", "--kafka-brokers", "127.0.0.1:9"], "--since must be before --until"),
            (["replay", "--offsets", "0:x", "--kafka-brokers", "127.0.0.1:9"], "invalid value '0:x' for --offsets: expected partition:offset"),
            (["replay", "--offsets", "0:9-3", "--kafka-brokers", "127.0.0.1:9"], "invalid value '0:9-3' for --offsets"),
            (["list"], "kafka-brokers is required: pass --kafka-brokers, set FLUXGATE_KAFKA_BROKERS"),
            (["list", "--kafka-brokers", "127.0.0.1:9", "--timeout", "soon"], "invalid value 'soon' for timeout (from flag --timeout)"),
            (["replay", "--all", "--kafka-brokers", "127.0.0.1:9", "--mqtt-url", "http://x"], "invalid value 'http://x' for mqtt-url"),
        ])
    func badArguments(arguments: [String], message: String) async throws {
        let result = try await fluxgate(arguments)
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && result.stdout.isEmpty)
    }

    @Test("argument errors of the parser itself exit 64 with the usage", .timeLimit(.minutes(1)))
    func parserErrors() async throws {
        let limit = try await fluxgate(["list", "--limit=-1", "--kafka-brokers", "127.0.0.1:9"])
        #expect(limit.status == 64 && limit.stderr.contains("--limit must be 0 or more"), "\(limit.stderr)")
        let grouping = try await fluxgate(["list", "--by", "colour"])
        #expect(grouping.status == 64 && grouping.stderr.contains("--by"), "\(grouping.stderr)")
    }

    @Test("a missing topic and an unreachable cluster are reported, not hung on", .timeLimit(.minutes(2)))
    func missingTopicAndUnreachableCluster() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        let missing = try await fluxgate(["list", "--kafka-brokers", cluster.bootstrapServers, "--kafka-topic-prefix", "nothing-here."])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("the dead-letter topic nothing-here.deadletter does not exist"), "\(missing.stderr)")

        let port = try FreePort.next()
        let unreachable = try await fluxgate(["list", "--kafka-brokers", "127.0.0.1:\(port)", "--timeout", "3s"])
        #expect(unreachable.status == 1)
        #expect(
            unreachable.stderr.contains("cannot read the metadata of fluxgate.deadletter from 127.0.0.1:\(port)")
                || unreachable.stderr.contains("did not finish within 3s"), "\(unreachable.stderr)")
    }
}
