import FluxgateTesting
import MQTT
import Testing

/// The client reconnects by itself after the broker goes away and comes back on the same port.
@Suite(.timeLimit(.minutes(1)))
struct ReconnectTests {
    @Test(arguments: [true, false])
    func reconnectsAfterBrokerRestart(persistentSession: Bool) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        var subscriberConfiguration = configuration(broker, "reconnecting-subscriber")
        if persistentSession {
            subscriberConfiguration.cleanStart = false
            subscriberConfiguration.sessionExpiry = .seconds(300)
        }
        try await withClient(subscriberConfiguration) { subscriber, received in
            try await subscriber.subscribe("restart/#", qos: .atLeastOnce)
            try await withClient(configuration(broker, "reconnecting-publisher")) { publisher, _ in
                try await publisher.publish(topic: "restart/1", payload: "before", qos: .atLeastOnce)
                try await eventually("first message") { received.count == 1 }

                try await broker.restart()

                try await eventually("subscriber reconnected") { subscriber.connectionCount >= 2 && subscriber.isConnected }
                // The publisher reconnects by itself too; its QoS 1 publication waits for that.
                // With a clean session the subscriber's SUBSCRIBE may still be on its way when the
                // first publication reaches the broker, so publish until one arrives.
                for _ in 0..<20 where !received.payloads.contains("after") {
                    try await publisher.publish(topic: "restart/2", payload: "after", qos: .atLeastOnce)
                    for _ in 0..<50 where !received.payloads.contains("after") {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                #expect(received.payloads.contains("after"), "no message arrived after the restart")
                #expect(publisher.connectionCount >= 2)
            }
        }
    }

    @Test func publicationWaitsForTheBroker() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await broker.stop()
        try await withClient(configuration(broker, "early-publisher")) { publisher, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await publisher.publish(topic: "late/1", payload: "queued", qos: .atLeastOnce)
                }
                try await Task.sleep(for: .milliseconds(300))
                #expect(!publisher.isConnected)
                try await broker.restart()
                try await group.waitForAll()
            }
            #expect(publisher.isConnected)
        }
    }
}
