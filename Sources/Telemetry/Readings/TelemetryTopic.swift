/// An MQTT topic Fluxgate accepts from devices.
///
/// Parsed by splitting on `/` (no regular expressions): exactly three levels, `devices`, a valid
/// ``DeviceID``, and `telemetry` or `status`.
public enum TelemetryTopic: Sendable, Hashable {
    /// `devices/{deviceId}/telemetry`: a JSON reading.
    case telemetry(DeviceID)
    /// `devices/{deviceId}/status`: `online` or `offline` (usually retained, the last will).
    case status(DeviceID)

    /// The device the topic belongs to.
    public var device: DeviceID {
        switch self {
        case .telemetry(let device), .status(let device): device
        }
    }

    /// The topic string.
    public var topic: String {
        switch self {
        case .telemetry(let device): "devices/\(device.rawValue)/telemetry"
        case .status(let device): "devices/\(device.rawValue)/status"
        }
    }

    /// The subscription filters that cover every device topic.
    public static let subscriptionFilters = ["devices/+/telemetry", "devices/+/status"]

    /// Parses `topic`, throwing `bad-topic` for a foreign topic and `bad-device-id` for a bad id.
    public init(parsing topic: String) throws(ReadingRejection) {
        let utf8 = topic.utf8
        // Fast, allocation-free split into exactly three levels.
        guard let firstSlash = utf8.firstIndex(of: UInt8(ascii: "/")) else {
            throw Self.foreign(topic)
        }
        let rest = utf8.index(after: firstSlash)
        guard let secondSlash = utf8[rest...].firstIndex(of: UInt8(ascii: "/")) else {
            throw Self.foreign(topic)
        }
        let kindStart = utf8.index(after: secondSlash)
        guard utf8[..<firstSlash].elementsEqual("devices".utf8) else { throw Self.foreign(topic) }
        let kind = utf8[kindStart...]
        let isTelemetry = kind.elementsEqual("telemetry".utf8)
        guard isTelemetry || kind.elementsEqual("status".utf8) else { throw Self.foreign(topic) }
        let idBytes = utf8[rest..<secondSlash]
        guard DeviceID.isValid(idBytes) else {
            throw ReadingRejection(
                .badDeviceID,
                "device id in topic '\(topic.prefix(120))' must be 1 to 64 characters from A-Z a-z 0-9 _ -"
            )
        }
        let id = DeviceID(unchecked: String(Substring(topic.utf8[rest..<secondSlash])))
        self = isTelemetry ? .telemetry(id) : .status(id)
    }

    private static func foreign(_ topic: String) -> ReadingRejection {
        ReadingRejection(
            .badTopic,
            "topic '\(topic.prefix(120))' is not devices/{deviceId}/telemetry or devices/{deviceId}/status"
        )
    }
}
