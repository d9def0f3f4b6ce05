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
    /// one connection, QoS 1); returns those the broker did not acknowledge, including, when
    /// `timeout` runs out, every one still waiting. Throws when the broker refuses the
    /// connection (nothing is published then).
    func publish(_ entries: [DeadLetterEntry]) async throws -> [DeadLetterOutput.Replay.Failed] {
        let client = self.client
        let timeout = self.timeout
        let target = "mqtt://\(client.configuration.host):\(client.configuration.port)"
        let outcomes = DeadLetterCollector([String: String?]())  // "p:o" -> nil (acknowledged) or the error
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await client.run()
                } catch let error as MQTTError {
                    throw DeadLetterError(
                        .publishFailed, "the MQTT broker at \(target) refused the connection: \(error); check --mqtt-url and the credentials.")
                }
                return false
            }
            group.addTask {
                do {
                    try await DeadLetterReader.withDeadline(timeout, "publishing") {
                        try await Self.publishAll(entries, client: client, outcomes: outcomes)
                    }
                } catch let error as DeadLetterError where error.code == .timeout {
                    // Reported below: what is still waiting counts as not acknowledged.
                }
                return true
            }
            do {
                while let publishingDone = try await group.next() {
                    if publishingDone { client.shutdown() }
                }
            } catch {
                group.cancelAll()
                throw error
            }
        }
        let results = outcomes.value
        return entries.compactMap { entry in
            let key = "\(entry.partition):\(entry.offset)"
            switch results[key] {
            case .some(.none): return nil
            case .some(.some(let error)): return .init(partition: entry.partition, offset: entry.offset, error: error)
            case .none:
                return .init(
                    partition: entry.partition, offset: entry.offset,
                    error: "not acknowledged within --timeout \(timeout.textForMessages) (is \(target) reachable?); it may or may not have arrived")
            }
        }
    }

    /// Up to ``window`` lanes publish at once, each awaiting every PUBACK before its next
    /// publication; all records of one MQTT topic (one device) go through one lane, in order.
    private static func publishAll(
        _ entries: [DeadLetterEntry], client: MQTTClient, outcomes: DeadLetterCollector<[String: String?]>
    ) async throws {
        var lanes = [[DeadLetterEntry]](repeating: [], count: window)
        var laneOfTopic: [String: Int] = [:]
        for entry in entries {
            guard let topic = entry.mqttTopic else { continue }
            let lane = laneOfTopic[topic] ?? laneOfTopic.count % window
            laneOfTopic[topic] = lane
            lanes[lane].append(entry)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in lanes where !lane.isEmpty {
                group.addTask {
                    for entry in lane {
                        try Task.checkCancellation()
                        let key = "\(entry.partition):\(entry.offset)"
                        do {
                            try await client.publish(topic: entry.mqttTopic ?? "", payload: entry.payload, qos: .atLeastOnce, retain: false)
                            outcomes.update { $0[key] = .some(nil) }
                        } catch {
                            // Cancelled by the deadline: reported as not acknowledged in time.
                            if Task.isCancelled { return }
                            outcomes.update { $0[key] = .some("\(error)") }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
