import SocketIO
import Telemetry

/// The kinds of events the hub sends to dashboards (hub-api.md 1.4).
public enum HubEventName: String, Sendable, CaseIterable {
    case reading
    case stats
    case alert
    case deviceStatus = "device-status"
    case note
}

/// One event to broadcast: its name, the device it is about and its JSON payload.
struct HubEvent: Sendable {
    var name: HubEventName
    var device: DeviceID
    var payload: JSONValue

    /// The rooms that receive it: `device:{id}`, `fleet`, `fleet:{event}` (a socket in several
    /// receives it once; the SocketIO broadcast de-duplicates targets).
    var rooms: [String] { HubRooms.rooms(for: name, device: device) }
}

/// Room names (hub-api.md 1.2).
enum HubRooms {
    static let fleet = "fleet"
    static func device(_ id: String) -> String { "device:" + id }
    static func fleet(_ event: HubEventName) -> String { "fleet:" + event.rawValue }
    static func rooms(for event: HubEventName, device: DeviceID) -> [String] {
        [Self.device(device.rawValue), fleet, Self.fleet(event)]
    }
}

extension JSONValue {
    /// Parses JSON bytes (a Kafka record value) with the SocketIO parser's default limits.
    static func parse(bytes: [UInt8]) -> JSONValue? {
        bytes.withUnsafeBufferPointer { buffer in try? JSONParser().parse(bytes: buffer) }
    }

    /// An integer JSON number.
    static func int(_ value: Int64) -> JSONValue { .number(Double(value)) }

    /// Replaces (or appends) the member `key` of an object.
    func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.firstIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key: key, value: value))
        }
        return .object(members)
    }
}
