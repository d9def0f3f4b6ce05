import MQTT

/// Publishes the simulator's batches over one MQTT connection (``MQTTClient``), with a bounded
/// number of publications in flight.
///
/// - Ordering: publications of one device are published one after the other, in due order (a
///   device's readings and its status stay in order); different devices are published
///   concurrently, at most `maxInFlight` at a time. `publish(_:)` returns when every publication
///   of the batch is sent (QoS 1: acknowledged by the broker), so batches never overlap.
/// - Device status: one shared connection publishes every device's `online`/`offline` as the
///   retained message on `devices/{id}/status` that the generator produces (there is no
///   per-device connection, so no last will per device). ``publishOffline(deviceIDs:)`` marks
///   devices offline when a run ends, as their wills would.
/// - Throughput: one device publishes at most one message per broker round trip; a fleet spreads
///   over its devices (the demo fleet: 13 devices, 14 readings/s).
///
/// The client must be running (e.g. in the same `ServiceGroup`, started before the simulator and
/// so stopped after it); publications wait for its connection.
public struct MQTTPublicationSink: PublicationSink {
    /// The connection publications go out on.
    public let client: MQTTClient
    /// Most publications awaiting their acknowledgement at once. Default 256.
    public let maxInFlight: Int

    /// Creates a sink on `client` with at most `maxInFlight` (at least 1) publications in flight.
    public init(client: MQTTClient, maxInFlight: Int = 256) {
        self.client = client
        self.maxInFlight = max(1, maxInFlight)
    }

    /// Publishes `batch`: each device's publications in order, devices concurrently (bounded).
    ///
    /// - Throws: the first `MQTTError` (the rest of the batch is still attempted by the lanes
    ///   already running; lanes not yet started are skipped).
    public func publish(_ batch: [Publication]) async throws {
        guard !batch.isEmpty else { return }
        let client = self.client
        if batch.count == 1, let only = batch.first {
            try await Self.send(only, on: client)
            return
        }
        let lanes = Self.lanes(of: batch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var running = 0
            for lane in lanes {
                if running >= maxInFlight {
                    try await group.next()
                    running -= 1
                }
                group.addTask {
                    for publication in lane { try await Self.send(publication, on: client) }
                }
                running += 1
            }
            try await group.waitForAll()
        }
    }

    /// Publishes a retained `offline` on `devices/{id}/status` for each device (QoS 1), e.g. when
    /// the simulation stops, so the dashboards show the fleet gone instead of silent.
    public func publishOffline(deviceIDs: [String]) async throws {
        let payload = Array(SimulatedDeviceStatus.offline.rawValue.utf8)
        let statuses = deviceIDs.map { id in
            Publication(
                deviceID: id, topic: SimulatorTopics.status(id), payload: payload, qos: 1, retain: true,
                offsetMilliseconds: 0, kind: .status(.offline))
        }
        try await publish(statuses)
    }

    /// The batch split by device, each device's publications in batch order, devices in order of
    /// their first publication.
    static func lanes(of batch: [Publication]) -> [[Publication]] {
        var index: [String: Int] = [:]
        var lanes: [[Publication]] = []
        for publication in batch {
            if let lane = index[publication.deviceID] {
                lanes[lane].append(publication)
            } else {
                index[publication.deviceID] = lanes.count
                lanes.append([publication])
            }
        }
        return lanes
    }

    private static func send(_ publication: Publication, on client: MQTTClient) async throws {
        let qos = MQTTQoS(rawValue: UInt8(clamping: publication.qos)) ?? .atLeastOnce
        try await client.publish(
            topic: publication.topic, payload: publication.payload, qos: qos, retain: publication.retain)
    }
}
