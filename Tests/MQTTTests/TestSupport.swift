import Foundation
import FluxgateTesting
import Logging
import MQTT
import NIOConcurrencyHelpers
import Testing

/// Logger for clients under test: errors only (set MQTT_TEST_LOG=warning, debug, trace for more).
func testLogger(_ label: String = "mqtt-test") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["MQTT_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .error
    return logger
}

/// A configuration for `broker` with a fresh client id.
func configuration(_ broker: MosquittoBroker, _ clientID: String? = nil, protocol version: MQTTConfiguration.ProtocolVersion = .v5)
    -> MQTTConfiguration
{
    var configuration = MQTTConfiguration(host: broker.host, port: broker.port, clientID: clientID)
    configuration.protocolVersion = version
    configuration.reconnectBackoff = .init(minimum: .milliseconds(50), maximum: .milliseconds(500))
    configuration.shutdownGracePeriod = .seconds(2)
    return configuration
}

/// What a test's consumer task saw.
final class Received: Sendable {
    private let box = NIOLockedValueBox<(messages: [MQTTMessage], batches: Int)>(([], 0))

    func append(_ batch: MQTTMessageBatch) {
        box.withLockedValue {
            $0.messages += batch.messages
            $0.batches += 1
        }
    }

    var messages: [MQTTMessage] { box.withLockedValue { $0.messages } }
    var payloads: [String] { messages.map(\.payloadString) }
    var count: Int { box.withLockedValue { $0.messages.count } }
    var batches: Int { box.withLockedValue { $0.batches } }
}

/// How the test consumer acknowledges.
enum AckPolicy: Sendable {
    /// Acknowledge every batch at once.
    case immediately
    /// Acknowledge every batch after a delay.
    case after(Duration)
    /// Never acknowledge.
    case never
}

/// Runs `client` and a consumer of its messages for the duration of `body`, then shuts the
/// client down gracefully and waits for both.
func withClient<R: Sendable>(
    _ configuration: MQTTConfiguration,
    ack: AckPolicy = .immediately,
    _ body: (MQTTClient, Received) async throws -> R
) async throws -> R {
    let client = try MQTTClient(configuration: configuration, logger: testLogger(configuration.clientID))
    let received = Received()
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await client.run() }
        group.addTask {
            for await batch in client.messages {
                received.append(batch)
                switch ack {
                case .immediately: batch.acknowledge()
                case .after(let delay):
                    try? await Task.sleep(for: delay)
                    batch.acknowledge()
                case .never: break
                }
            }
        }
        do {
            let result = try await body(client, received)
            client.shutdown()
            try await group.waitForAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// Waits until `condition` holds, polling; fails the test with `message` after `timeout`.
func eventually(
    _ message: @autoclosure () -> String,
    timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline {
            Issue.record("timed out after \(timeout): \(message())", sourceLocation: sourceLocation)
            throw FixtureError(code: "timeout", message: message())
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// The `mqtt-test-subscriber` executable next to the test bundle.
func subscriberExecutable() throws -> String {
    let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var folder = executable.deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("mqtt-test-subscriber").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    throw FixtureError(
        code: "helper-missing",
        message: "mqtt-test-subscriber not found near \(executable.path); build it: FLUXGATE_ONLY=MQTTTests,mqtt-test-subscriber swift build --build-tests"
    )
}
