import FluxgateTesting
import MQTT
import Testing

/// Publish/subscribe against a real mosquitto, for every QoS and both protocol versions.
@Suite(.timeLimit(.minutes(1)))
struct PublishSubscribeTests {
    @Test(arguments: MQTTQoS.allCases, [MQTTConfiguration.ProtocolVersion.v5, .v311])
    func publishAndReceive(qos: MQTTQoS, version: MQTTConfiguration.ProtocolVersion) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let count = 200
        try await withClient(configuration(broker, protocol: version)) { subscriber, received in
            let granted = try await subscriber.subscribe("test/qos/#", qos: qos)
            #expect(granted == qos)
            #expect(subscriber.isConnected)
            try await withClient(configuration(broker, protocol: version)) { publisher, _ in
                for index in 0..<count {
                    try await publisher.publish(topic: "test/qos/\(index % 3)", payload: "m-\(index)", qos: qos)
                }
            }
            try await eventually("\(received.count) of \(count) messages arrived") { received.count >= count }
            #expect(received.payloads == (0..<count).map { "m-\($0)" })  // one publisher: in order
            #expect(received.messages.allSatisfy { $0.qos == qos })
            #expect(received.messages[1].topic == "test/qos/1")
        }
    }

    @Test func concurrentPublicationsComplete() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker), ack: .immediately) { subscriber, received in
            try await subscriber.subscribe("burst/#", qos: .atLeastOnce)
            try await withClient(configuration(broker)) { publisher, _ in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<8 {
                        group.addTask {
                            for index in 0..<250 {
                                try await publisher.publish(topic: "burst/\(task)", payload: "\(task)-\(index)", qos: .atLeastOnce)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            try await eventually("\(received.count) of 2000 arrived") { received.count >= 2000 }
            #expect(Set(received.payloads).count == 2000)
        }
    }

    @Test func retainedMessageAndUnsubscribe() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker)) { publisher, _ in
            try await publisher.publish(topic: "devices/d1/status", payload: "online", qos: .atLeastOnce, retain: true)
        }
        try await withClient(configuration(broker)) { subscriber, received in
            try await subscriber.subscribe("devices/+/status")
            try await eventually("retained message") { received.count == 1 }
            #expect(received.messages.first?.retain == true)
            #expect(received.messages.first?.payloadString == "online")
            try await subscriber.unsubscribe("devices/+/status")
            try await withClient(configuration(broker)) { publisher, _ in
                try await publisher.publish(topic: "devices/d1/status", payload: "offline", qos: .atLeastOnce)
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(received.count == 1)
        }
    }

    @Test func lastWillIsPublishedWhenTheClientDies() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker)) { watcher, received in
            try await watcher.subscribe("devices/+/status")
            let process = try ChildProcess.spawn(
                try subscriberExecutable(),
                arguments: ["--port", "\(broker.port)", "--client-id", "will-client", "--topic", "will/#", "--will-topic", "devices/d9/status"]
            )
            try await process.waitForOutput(timeout: .seconds(10)) { $0.contains("READY") }
            #expect(received.count == 0)
            process.kill()  // no DISCONNECT: the broker publishes the will
            try await process.waitForExit(timeout: .seconds(5))
            try await eventually("last will arrived") { received.payloads.contains("offline") }
            #expect(received.messages.first?.topic == "devices/d9/status")
        }
    }

    @Test(arguments: [0, 1, 65_536, 300_000])
    func payloadSizes(size: Int) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await withClient(configuration(broker)) { subscriber, received in
            try await subscriber.subscribe("sizes/#")
            try await subscriber.publish(topic: "sizes/\(size)", payload: payload, qos: .atLeastOnce)
            try await eventually("payload of \(size) bytes") { received.count == 1 }
            #expect(received.messages.first?.payload == payload)
            #expect(received.messages.first?.topic == "sizes/\(size)")
        }
    }

    @Test func badRequestsFailClearly() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.shutdown() }
        try await withClient(configuration(broker)) { client, _ in
            await #expect(throws: MQTTError.self) { try await client.publish(topic: "a/+/b", payload: "x") }
            do {
                try await client.subscribe("bad/#/filter")
                Issue.record("an invalid filter was accepted")
            } catch let error as MQTTError {
                #expect(error.code == .invalidArgument || error.code == .subscribeRejected)
            }
        }
    }
}
