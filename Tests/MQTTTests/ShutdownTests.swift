import FluxgateTesting
import MQTT
import Testing

/// Graceful shutdown and refusals.
@Suite(.timeLimit(.minutes(1)))
struct ShutdownTests {
    /// A graceful shutdown with an unacknowledged batch closes without acknowledging it (after
    /// the grace period), so the next session gets it again; acknowledged ones do not return.
    @Test func gracefulShutdownNeverAcknowledgesForTheApplication() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        var session = configuration(broker, "graceful-ingress")
        session.cleanStart = false
        session.sessionExpiry = .seconds(300)
        session.subscriptions = [.init("graceful/#")]
        session.shutdownGracePeriod = .milliseconds(500)
        try await withClient(configuration(broker)) { publisher, _ in
            // 1. Receive one message, acknowledge it, stop gracefully.
            try await withClient(session) { client, received in
                try await client.subscribe("graceful/#")
                try await publisher.publish(topic: "graceful/1", payload: "acked")
                try await eventually("first message") { received.count == 1 }
            }
            // 2. Receive one message, do not acknowledge it, stop gracefully.
            try await withClient(session, ack: .never) { client, received in
                try await publisher.publish(topic: "graceful/2", payload: "unacked")
                try await eventually("second message") { received.payloads.contains("unacked") }
                #expect(!received.payloads.contains("acked"))
            }
            // 3. The next session gets the unacknowledged one again, not the acknowledged one.
            try await withClient(session) { _, received in
                try await eventually("redelivery") { received.payloads.contains("unacked") }
                try await Task.sleep(for: .milliseconds(200))
                #expect(received.payloads == ["unacked"])
            }
        }
    }

    /// A graceful shutdown sends DISCONNECT: the will is not published.
    @Test func gracefulShutdownSuppressesTheWill() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker)) { watcher, received in
            try await watcher.subscribe("status/#")
            var withWill = configuration(broker, "polite")
            withWill.will = .init(topic: "status/polite", payload: Array("offline".utf8))
            try await withClient(withWill) { client, _ in
                try await client.publish(topic: "status/polite", payload: "online")
            }
            try await eventually("online status") { received.count == 1 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(received.payloads == ["online"])
        }
    }

    @Test(arguments: [MQTTConfiguration.ProtocolVersion.v5, .v311])
    func refusedConnectionEndsRun(version: MQTTConfiguration.ProtocolVersion) async throws {
        var brokerConfiguration = MosquittoBroker.Configuration()
        brokerConfiguration.extraLines = ["allow_anonymous false"]  // no password file: nobody gets in
        // `allow_anonymous true` is written first; the later line wins for the listener.
        let broker = try await MosquittoBroker.start(brokerConfiguration)
        defer { broker.shutdown() }
        var refused = configuration(broker, "intruder", protocol: version)
        refused.credentials = .init(username: "nobody", password: "wrong")
        let client = try MQTTClient(configuration: refused, logger: testLogger())
        do {
            try await client.run()
            Issue.record("run() returned although the broker refuses the client")
        } catch let error as MQTTError {
            #expect(error.code == .connectionRefused)
            #expect(error.reasonCode != nil)
        }
        await #expect(throws: MQTTError.self) { try await client.publish(topic: "x", payload: "y") }
    }

    @Test func runTwiceFails() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker)) { client, _ in
            try await eventually("connected") { client.isConnected }  // the first run() is under way
            await #expect(throws: MQTTError.self) { try await client.run() }
        }
    }
}
