/// One MQTT message the simulator sends, with the moment it is due.
public struct Publication: Sendable, Hashable {
    /// What the message is.
    public enum Kind: Sendable, Hashable {
        /// A reading on `devices/{id}/telemetry`; `ts` is the reading's epoch ms.
        case telemetry(seq: UInt64, ts: Int64)
        /// A retained status on `devices/{id}/status`. In a real run `offline` is what the
        /// device's last will says when its connection drops; a per-device MQTT sink should drop
        /// the device's connection instead of publishing it.
        case status(SimulatedDeviceStatus)
    }

    /// The device id.
    public var deviceID: String
    /// The MQTT topic.
    public var topic: String
    /// The payload bytes (JSON for telemetry, `online`/`offline` for status).
    public var payload: [UInt8]
    /// MQTT QoS (0, 1 or 2).
    public var qos: Int
    /// Whether the broker should retain it (status messages).
    public var retain: Bool
    /// When it is due, in milliseconds after the run's start (the wall clock offset).
    public var offsetMilliseconds: Int64
    /// What it is.
    public var kind: Kind

    /// Creates a publication.
    public init(
        deviceID: String,
        topic: String,
        payload: [UInt8],
        qos: Int,
        retain: Bool,
        offsetMilliseconds: Int64,
        kind: Kind
    ) {
        self.deviceID = deviceID
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.offsetMilliseconds = offsetMilliseconds
        self.kind = kind
    }

    /// `offset<TAB>topic<TAB>payload` (payload as UTF-8 text), for dry runs and logs.
    public var textLine: String {
        "\(offsetMilliseconds)\t\(topic)\t\(String(decoding: payload, as: UTF8.self))"
    }

    /// Whether this is a reading.
    public var isTelemetry: Bool {
        if case .telemetry = kind { return true }
        return false
    }
}

/// A device's connection status as published on `devices/{id}/status`.
public enum SimulatedDeviceStatus: String, Sendable, Hashable, Codable {
    /// Connected and publishing.
    case online
    /// Gone (published by the broker from the last will in a real run).
    case offline
}

/// Topics of the MQTT contract.
public enum SimulatorTopics {
    /// `devices/{id}/telemetry`.
    public static func telemetry(_ deviceID: String) -> String { "devices/\(deviceID)/telemetry" }
    /// `devices/{id}/status`.
    public static func status(_ deviceID: String) -> String { "devices/\(deviceID)/status" }
}
