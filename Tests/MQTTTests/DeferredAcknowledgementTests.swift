import FluxgateTesting
import MQTT
import Testing

/// Deferred acknowledgement against a real mosquitto: what is not acknowledged comes back after a
/// crash, what is acknowledged does not, and the connection stays alive meanwhile.
@Suite(.timeLimit(.minutes(1)))
struct DeferredAcknowledgementTests {
    /// A subscriber process acknowledges the `a-` messages, receives the `b-` messages without
    /// acknowledging them, and is SIGKILLed. Restarted with the same client id it receives every
    /// `b-` message again (and what was published while it was down), and no `a-` message.
    @Test(arguments: [MQTTConfiguration.ProtocolVersion.v5, .v311])
    func unacknowledgedMessagesSurviveSIGKILL(version: MQTTConfiguration.ProtocolVersion) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let executable = try subscriberExecutable()
        let arguments = [
            "--port", "\(broker.port)", "--client-id", "ingress-\(version)", "--topic", "ingest/#",
            "--protocol", version == .v5 ? "5" : "3", "--session-expiry", "300",
            "--ack-prefix", "a-", "--confirm-after", "50",
            // Keep reading for 4.5 s while the `b-` batch is unacknowledged, so that all of them
            // arrive before the kill even when publishing is slow on a loaded machine (with the
            // 20 ms default reading stops sooner; it must stay under keepAlive / 2 = 5 s).
            "--read-ahead-ms", "4500",
        ]
        func received(_ lines: [String], _ prefix: String) -> Set<String> {
            Set(lines.filter { $0.hasPrefix("MSG \(prefix)") }.map { String($0.dropFirst(4)) })
        }
        let expectedB = Set((0..<50).map { "b-\($0)" })
        let expectedC = Set((0..<20).map { "c-\($0)" })

        try await withClient(configuration(broker)) { publisher, _ in
            let first = try ChildProcess.spawn(executable, arguments: arguments)
            try await first.waitForOutput(timeout: .seconds(10)) { $0.contains("READY") }
            for index in 0..<50 {
                try await publisher.publish(topic: "ingest/d\(index % 5)", payload: "a-\(index)", qos: .atLeastOnce)
            }
            // CONFIRMED: a publication after the acknowledgements completed, so the broker has them.
            try await first.waitForOutput(timeout: .seconds(10)) { $0.contains("CONFIRMED") }
            for index in 0..<50 {
                try await publisher.publish(topic: "ingest/d\(index % 5)", payload: "b-\(index)", qos: .atLeastOnce)
            }
            try await first.waitForOutput(timeout: .seconds(20)) { received($0, "b-") == expectedB }
            first.kill()
            try await first.waitForExit(timeout: .seconds(5))

            // Published while the subscriber is down: queued in its session.
            for index in 0..<20 {
                try await publisher.publish(topic: "ingest/d0", payload: "c-\(index)", qos: .atLeastOnce)
            }

            let second = try ChildProcess.spawn(executable, arguments: arguments)
            defer { second.kill() }
            try await second.waitForOutput(timeout: .seconds(10)) { lines in
                received(lines, "b-").isSuperset(of: expectedB) && received(lines, "c-").isSuperset(of: expectedC)
            }
            try await Task.sleep(for: .milliseconds(300))  // anything else would arrive by now
            #expect(received(second.outputLines, "a-").isEmpty, "acknowledged messages came back")
            #expect(received(second.outputLines, "b-") == expectedB)
        }
    }

    /// Batches acknowledged a while after delivery (writes held meanwhile) for three keepalive
    /// periods: the connection never drops and every message arrives once.
    @Test func keepAliveWorksWhileMessagesAreInFlight() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        var subscriberConfiguration = configuration(broker, "slow-ingress")
        subscriberConfiguration.keepAlive = .seconds(5)
        subscriberConfiguration.maxReadAhead = .milliseconds(500)
        let count = 300
        try await withClient(subscriberConfiguration, ack: .after(.milliseconds(700))) { subscriber, received in
            try await subscriber.subscribe("slow/#", qos: .atLeastOnce)
            try await withClient(configuration(broker)) { publisher, _ in
                for index in 0..<count {  // 300 messages over about 15 s
                    try await publisher.publish(topic: "slow/t", payload: "s-\(index)", qos: .atLeastOnce)
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            // Then nothing arrives for a while; held acknowledgements are released, pings keep it up.
            try await eventually("\(received.count) of \(count) arrived", timeout: .seconds(15)) { received.count >= count }
            try await Task.sleep(for: .seconds(6))
            #expect(subscriber.connectionCount == 1, "the connection dropped while acknowledgements were held")
            #expect(subscriber.isConnected)
            #expect(received.payloads == (0..<count).map { "s-\($0)" })
            #expect(received.batches > 1)
        }
        #expect(!broker.log().contains("exceeded timeout"))
    }

    /// With automatic acknowledgement nothing waits for the application.
    @Test func automaticAcknowledgement() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        var dashboard = configuration(broker, "dashboard")
        dashboard.acknowledgement = .automatic
        try await withClient(dashboard, ack: .never) { subscriber, received in
            try await subscriber.subscribe("dash/#", qos: .atLeastOnce)
            // The consumer never acknowledges, yet the subscriber itself can still publish
            // (its writes are not held).
            try await subscriber.publish(topic: "dash/self", payload: "1", qos: .atLeastOnce)
            try await subscriber.publish(topic: "dash/self", payload: "2", qos: .atLeastOnce)
            try await eventually("own messages arrived") { received.count == 2 }
        }
    }
}
