import FluxgateTesting
import Foundation
import Logging
import MQTT
import Simulator
import Synchronization
import Testing

// Here rather than in SimulatorTests: it needs a real broker (FluxgateTesting), which the
// simulator's own tests do not use.
@Suite("MQTTPublicationSink against a real mosquitto", .serialized)
struct MQTTPublicationSinkTests {
    final class Inbox: Sendable {
        let messages = Mutex<[MQTTMessage]>([])
        var count: Int { messages.withLock { $0.count } }
    }

    /// Publishes `batches` through a sink with `maxInFlight`, returns what a subscriber received.
    func roundTrip(_ batches: [[Publication]], maxInFlight: Int) async throws -> [MQTTMessage] {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let logger = Logger(label: "test")
        var subscriberConfiguration = try MQTTConfiguration(url: broker.url, clientID: "sink-test-subscriber")
        subscriberConfiguration.acknowledgement = .automatic
        let subscriber = try MQTTClient(configuration: subscriberConfiguration, logger: logger)
        let publisher = try MQTTClient(configuration: try MQTTConfiguration(url: broker.url, clientID: "sink-test-publisher"), logger: logger)
        let sink = MQTTPublicationSink(client: publisher, maxInFlight: maxInFlight)
        let inbox = Inbox()
        let expected = batches.reduce(0) { $0 + $1.count }
        return try await whileRunning([subscriber, publisher], logger: logger) {
            try await subscriber.subscribe("devices/#", qos: .atLeastOnce)
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await batch in subscriber.messages {
                        inbox.messages.withLock { $0.append(contentsOf: batch.messages) }
                    }
                }
                for batch in batches { try await sink.publish(batch) }
                try await waitUntil(20, "\(expected) messages at the subscriber") { inbox.count >= expected }
                try await Task.sleep(for: .milliseconds(200))
                group.cancelAll()
                return inbox.messages.withLock { $0 }
            }
        }
    }

    static func reading(_ device: String, _ seq: UInt64) -> Publication {
        Publication(
            deviceID: device, topic: "devices/\(device)/telemetry",
            payload: Array(#"{"ts":1,"seq":\#(seq),"metrics":{"t":1}}"#.utf8), qos: 1, retain: false,
            offsetMilliseconds: Int64(seq), kind: .telemetry(seq: seq, ts: 1))
    }

    @Test("every publication arrives once, each device's in order, with a bounded window", .timeLimit(.minutes(1)))
    func orderAndCount() async throws {
        // 20 devices x 60 readings, interleaved, in 3 batches; a status first for each device.
        var all: [Publication] = []
        for device in 0..<20 {
            all.append(
                Publication(
                    deviceID: "d\(device)", topic: "devices/d\(device)/status", payload: Array("online".utf8), qos: 1,
                    retain: true, offsetMilliseconds: 0, kind: .status(.online)))
        }
        for seq in 0..<60 {
            for device in 0..<20 { all.append(Self.reading("d\(device)", UInt64(seq))) }
        }
        let batches = stride(from: 0, to: all.count, by: 500).map { Array(all[$0..<min($0 + 500, all.count)]) }
        let received = try await roundTrip(batches, maxInFlight: 8)
        #expect(received.count == all.count)
        for device in 0..<20 {
            let topics = received.filter { $0.topic.hasPrefix("devices/d\(device)/") }
            #expect(topics.first?.topic == "devices/d\(device)/status")
            let payloads = topics.dropFirst().map(\.payloadString)
            let expected = (0..<60).map { #"{"ts":1,"seq":\#($0),"metrics":{"t":1}}"# }
            #expect(payloads == expected, "device d\(device) out of order")
        }
    }

    @Test("publishOffline leaves a retained offline for each device", .timeLimit(.minutes(1)))
    func offline() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let logger = Logger(label: "test")
        let publisher = try MQTTClient(configuration: try MQTTConfiguration(url: broker.url, clientID: "sink-offline-publisher"), logger: logger)
        let sink = MQTTPublicationSink(client: publisher)
        try await whileRunning([publisher], logger: logger) {
            try await sink.publishOffline(deviceIDs: ["a", "b", "c"])
        }
        // A new subscriber gets the retained statuses.
        var configuration = try MQTTConfiguration(url: broker.url, clientID: "sink-offline-subscriber")
        configuration.acknowledgement = .automatic
        let subscriber = try MQTTClient(configuration: configuration, logger: logger)
        let received = try await whileRunning([subscriber], logger: logger) {
            try await subscriber.subscribe("devices/+/status", qos: .atLeastOnce)
            var statuses: [String: String] = [:]
            for await batch in subscriber.messages {
                for message in batch.messages where message.retain { statuses[message.topic] = message.payloadString }
                if statuses.count == 3 { break }
            }
            return statuses
        }
        #expect(received == ["devices/a/status": "offline", "devices/b/status": "offline", "devices/c/status": "offline"])
    }
}
