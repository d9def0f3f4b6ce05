import FluxgateTesting
import MQTT
import Testing

/// `$share/group/filter` on mosquitto 2.0.11: the group's members split the messages.
@Suite(.timeLimit(.minutes(1)))
struct SharedSubscriptionTests {
    @Test(arguments: [MQTTConfiguration.ProtocolVersion.v5, .v311])
    func sharedSubscriptionSplitsMessages(version: MQTTConfiguration.ProtocolVersion) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let count = 400
        var first = configuration(broker, "ingress-a", protocol: version)
        first.subscriptions = [.init("$share/ingress/devices/+/telemetry", qos: .atLeastOnce)]
        var second = configuration(broker, "ingress-b", protocol: version)
        second.subscriptions = first.subscriptions
        try await withClient(first) { clientA, receivedA in
            try await withClient(second) { clientB, receivedB in
                // A second SUBACK for the same filter tells that the configured one is active.
                try await clientA.subscribe("$share/ingress/devices/+/telemetry")
                try await clientB.subscribe("$share/ingress/devices/+/telemetry")
                try await withClient(configuration(broker)) { publisher, _ in
                    for index in 0..<count {
                        try await publisher.publish(topic: "devices/d\(index % 10)/telemetry", payload: "r-\(index)", qos: .atLeastOnce)
                    }
                }
                try await eventually("\(receivedA.count) + \(receivedB.count) of \(count)") {
                    Set(receivedA.payloads).union(receivedB.payloads).count == count
                }
                try await Task.sleep(for: .milliseconds(200))
                #expect(receivedA.count > 0, "member A got nothing")
                #expect(receivedB.count > 0, "member B got nothing")
                #expect(Set(receivedA.payloads).union(receivedB.payloads) == Set((0..<count).map { "r-\($0)" }))
                // Each message goes to one member of the group (no redelivery without reconnects).
                #expect(receivedA.count + receivedB.count == count)
            }
        }
    }
}
