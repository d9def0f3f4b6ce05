import Logging
import MQTT

/// Publishes dead letters' original payloads to their MQTT topics at QoS 1 over one connection,
/// a bounded number at a time, and reports those the broker did not acknowledge.
struct DeadLetterReplayer: Sendable {
    /// Publications awaiting their PUBACK at once (lanes).
    static let window = 32

    let client: MQTTClient
    /// Connecting and publishing everything must finish within this.
    let timeout: Duration
    let logger: Logger

    /// Publishes `entries` in order (one device's records stay in order: one partition each,
    /// one connection, QoS 1); returns the failures. Throws when the broker cannot be reached or
    /// refuses the connection, or on timeout.
    func publish(_ entries: [DeadLetterEntry]) async throws -> [DeadLetterOutput.Replay.Failed] {
        let client = self.client
        let target = "mqtt://\(client.configuration.host):\(client.configuration.port)"
        return try await withThrowingTaskGroup(of: [DeadLetterOutput.Replay.Failed]?.self) { group in
            group.addTask {
                do {
                    try await client.run()
                } catch let error as MQTTError {
                    throw DeadLetterError(.publishFailed, "the MQTT broker at \(target) refused the connection: \(error); check --mqtt-url and the credentials.")
                }
                return nil
            }
            group.addTask {
                try await DeadLetterReader.withDeadline(self.timeout, "publishing \(entries.count) records to \(target)") {
                    try await Self.publishAll(entries, client: client)
                }
            }
            var failures: [DeadLetterOutput.Replay.Failed] = []
            do {
                while let result = try await group.next() {
                    if let result {
                        failures = result
                        client.shutdown()
                    }
                }
            } catch {
                group.cancelAll()
                throw error
            }
            return failures
        }
    }

    /// Up to ``window`` lanes publish at once, each awaiting every PUBACK before its next
    /// publication; all records of one MQTT topic (one device) go through one lane, in order.
    private static func publishAll(_ entries: [DeadLetterEntry], client: MQTTClient) async throws -> [DeadLetterOutput.Replay.Failed] {
        var lanes = [[DeadLetterEntry]](repeating: [], count: window)
        var laneOfTopic: [String: Int] = [:]
        for entry in entries {
            guard let topic = entry.mqttTopic else { continue }
            let lane = laneOfTopic[topic] ?? laneOfTopic.count % window
            laneOfTopic[topic] = lane
            lanes[lane].append(entry)
        }
        return try await withThrowingTaskGroup(of: [DeadLetterOutput.Replay.Failed].self) { group in
            for lane in lanes where !lane.isEmpty {
                group.addTask {
                    var failures: [DeadLetterOutput.Replay.Failed] = []
                    for entry in lane {
                        try Task.checkCancellation()
                        do {
                            try await client.publish(topic: entry.mqttTopic ?? "", payload: entry.payload, qos: .atLeastOnce, retain: false)
                        } catch {
                            failures.append(.init(partition: entry.partition, offset: entry.offset, error: "\(error)"))
                        }
                    }
                    return failures
                }
            }
            var failures: [DeadLetterOutput.Replay.Failed] = []
            while let done = try await group.next() {
                failures += done
            }
            return failures.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
        }
    }
}
