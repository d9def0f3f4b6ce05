import Foundation
import FluxgateTesting
import Kafka
import Logging
import Observability
import Prometheus
import ServiceLifecycle
import SocketIO
import Synchronization
import Telemetry
import Testing

@testable import Hub

/// The repository root, found from this file's path (Tests/HubTests/HubFixture.swift).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

let testLogger: Logger = {
    var logger = Logger(label: "HubTests")
    logger.logLevel = .warning
    return logger
}()

/// A dev Kafka cluster with the Fluxgate topics and a producer for the test's records.
final class KafkaFixture: Sendable {
    let cluster: DevKafkaCluster
    let producer: KafkaProducer
    let topics = FluxgateTopics()

    init() throws {
        cluster = try DevKafkaCluster(brokerCount: 1, logger: testLogger)
        for topic in topics.all { try cluster.createTopic(topic, partitions: 2) }
        // As operations.md asks of a real cluster: the hub need not create it at start-up.
        try cluster.createTopic(topics.prefix + "hub-sessions", partitions: 1)
        var configuration = KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServerList)
        configuration.linger = .milliseconds(1)
        producer = try KafkaProducer(configuration: configuration, logger: testLogger)
    }

    func send(_ topic: String, key: String, _ value: [UInt8]) async throws {
        _ = try await producer.send(KafkaProducerRecord(topic: topic, key: key, value: value))
    }

    func reading(_ device: String, seq: UInt64, ts: Int64 = WallClock.nowMilliseconds(), metrics: [Metric]? = nil) -> [UInt8] {
        ReadingRecord.encode(
            Reading(device: DeviceID(device)!, ts: ts, seq: seq, metrics: metrics ?? [Metric("temperature", 20 + Double(seq))]))
    }

    func alert(_ device: String, id: String, state: AlertState = .active, ts: Int64 = WallClock.nowMilliseconds()) -> [UInt8] {
        AlertTransition(
            id: id, device: DeviceID(device)!, rule: "overheating", metric: "temperature", severity: .critical, state: state,
            value: 31.2, threshold: 30, ts: ts, message: "temperature 31.2 above 30"
        ).encoded()
    }
}

/// A running hub on a free port.
struct RunningHub {
    let hub: Hub
    let port: Int
    let readiness: Readiness
    var url: String { "http://127.0.0.1:\(port)" }
}

/// Runs `body` with the Kafka fixture's producer and `count` hubs running; shuts all down after.
func withHubs(
    _ count: Int = 1,
    configure: (inout HubConfiguration) -> Void = { _ in },
    _ body: (KafkaFixture, [RunningHub]) async throws -> Void
) async throws {
    let kafka = try KafkaFixture()
    defer { kafka.cluster.shutdown() }
    var hubs: [RunningHub] = []
    var services: [any Service] = [kafka.producer]
    for index in 0..<count {
        var configuration = try testHubConfiguration(kafka, instanceID: "test-\(index)")
        configure(&configuration)
        let hub = try RunningHub(configuration)
        hubs.append(hub)
        services.append(contentsOf: hub.hub.services)
    }
    try await withServices(services, readyHubs: hubs) { try await body(kafka, hubs) }
}

extension RunningHub {
    /// A hub built with `configuration` (not started).
    init(_ configuration: HubConfiguration) throws {
        let readiness = Readiness()
        let routes = ObservabilityRoutes(registry: PrometheusCollectorRegistry(), readiness: readiness)
        self.init(
            hub: try Hub(configuration: configuration, observability: routes, logger: testLogger), port: configuration.httpPort,
            readiness: readiness)
    }
}

/// How a service group's run ended, once it has (set from its task, read while waiting).
private final class GroupOutcome: Sendable {
    private let ended = Mutex<String?>(nil)
    func record(_ outcome: String) { ended.withLock { $0 = outcome } }
    var outcome: String? { ended.withLock { $0 } }
}

/// Runs `services` in a service group while `body` runs, after waiting until every hub of
/// `readyHubs` is ready and listening; then shuts the group down gracefully (also when `body`
/// throws). A group that stops before its hubs are ready (a hub that cannot bind its port, a
/// service that throws) fails at once with its error, instead of after the readiness timeout.
func withServices(
    _ services: [any Service], readyHubs: [RunningHub] = [], _ body: () async throws -> Void
) async throws {
    let group = ServiceGroup(services: services, gracefulShutdownSignals: [], logger: testLogger)
    let outcome = GroupOutcome()
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            do {
                try await group.run()
                outcome.record("returned without an error")
            } catch {
                outcome.record("threw \(error)")
                throw error
            }
        }
        do {
            for hub in readyHubs {
                try await waitUntil(timeout: .seconds(90), "hub on port \(hub.port) ready and listening") {
                    if let ended = outcome.outcome {
                        throw FixtureError(
                            code: "hub-stopped", message: "the service group of the hub on port \(hub.port) \(ended) before it was ready")
                    }
                    return hub.readiness.isReady && FreePort.isAccepting(port: hub.port)
                }
            }
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// The tests' hub settings: the fixture's cluster, loopback, a free port, the repository's
/// dashboards.
func testHubConfiguration(_ kafka: KafkaFixture, instanceID: String, port: Int? = nil) throws -> HubConfiguration {
    var configuration = HubConfiguration()
    configuration.kafkaBrokers = kafka.cluster.bootstrapServerList
    // The dev cluster holds an empty fetch for the whole fetch.wait.max.ms (500 ms by default):
    // without this, every live event and every recovery replay waits for it.
    configuration.kafkaConsumerProperties = DevKafkaCluster.consumerProperties
    configuration.instanceID = instanceID
    configuration.host = "127.0.0.1"
    configuration.httpPort = try port ?? FreePort.next()
    configuration.dashboardsDirectory = repositoryRoot + "/dashboards"
    configuration.vendorDirectory = repositoryRoot + "/vendor"
    return configuration
}

/// Runs `body` with the Kafka fixture and its producer running, and no hub (start hubs one at a
/// time with ``withHub(_:_:_:)``, to stop and restart them).
func withKafka(_ body: (KafkaFixture) async throws -> Void) async throws {
    let kafka = try KafkaFixture()
    defer { kafka.cluster.shutdown() }
    try await withServices([kafka.producer]) { try await body(kafka) }
}

/// Runs one hub with `configuration` while `body` runs, then stops it gracefully (its
/// dashboards are disconnected as on a hub shutdown).
func withHub(
    _ kafka: KafkaFixture, _ configuration: HubConfiguration, _ body: (RunningHub) async throws -> Void
) async throws {
    let hub = try RunningHub(configuration)
    try await withServices(hub.hub.services, readyHubs: [hub]) { try await body(hub) }
}

/// Polls `condition` every 20 ms until it holds; fails after `timeout`.
func waitUntil(timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now >= deadline {
            throw FixtureError(code: "timeout", message: "\(what) did not happen within \(timeout)")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// The python-socketio client of Tests/HubTests/Clients/hub_client.py (FluxgateTesting).
typealias PythonClient = PythonSocketIOClient

/// `curl -s -i`: status, headers (lower-cased names) and body. Output goes to a file (no pipes).
func httpGet(_ url: String, headers: [String] = []) async throws -> (status: Int, headers: [String: String], body: String) {
    var arguments = ["-s", "-i", "--max-time", "10", "--path-as-is"]
    for header in headers { arguments += ["-H", header] }
    let file = NSTemporaryDirectory() + "hubtests-curl-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: file) }
    let curl = try ChildProcess.spawn("/usr/bin/curl", arguments: arguments + [url], output: .file(file))
    try await curl.waitForExit(timeout: .seconds(15))
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    let lines = text.components(separatedBy: "\r\n")
    guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/") else {
        throw FixtureError(code: "http", message: "no HTTP answer from \(url): \(text.prefix(200))")
    }
    let status = Int(statusLine.split(separator: " ")[1]) ?? 0
    var result: [String: String] = [:]
    var index = 1
    while index < lines.count, !lines[index].isEmpty {
        let line = lines[index]
        if let colon = line.firstIndex(of: ":") {
            result[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        index += 1
    }
    let body = lines.dropFirst(index + 1).joined(separator: "\r\n")
    return (status, result, body)
}

func jsonObject(_ text: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
}
