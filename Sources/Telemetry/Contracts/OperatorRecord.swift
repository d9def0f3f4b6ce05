/// A `fluxgate.operator` record: what operators send from the dashboards (via the hub).
///
/// JSON, one object per record, Kafka key = device id:
/// - acknowledgement: `{"type":"ack","id":"9f3c2a7d1e0b4c58","device":"greenhouse-1","by":"alice","ts":1764400012000}`
/// - note: `{"type":"note","id":"n-3-1042","device":"greenhouse-1","text":"Vent 3 stuck","author":"alice","ts":1764400013000}`
///
/// `ts` is the hub's clock (epoch ms). The windowing stage feeds acknowledgements to
/// ``AlertEvaluator/acknowledge(id:at:by:)``; notes go to the dashboards.
public enum OperatorRecord: Sendable, Hashable {
    /// An alert acknowledgement.
    case acknowledgement(id: String, device: DeviceID, by: String?, ts: Int64)
    /// A note about a device; `text` is 1...2000 characters.
    case note(id: String, device: DeviceID, text: String, author: String?, ts: Int64)

    /// The longest note, in characters.
    public static let maxNoteLength = 2000

    /// The device the record is about (the Kafka key).
    public var device: DeviceID {
        switch self {
        case .acknowledgement(_, let device, _, _), .note(_, let device, _, _, _): device
        }
    }

    /// Encodes the record as JSON bytes.
    public func encoded() -> [UInt8] {
        var w = JSONWriter(capacity: 128)
        w.beginObject()
        switch self {
        case .acknowledgement(let id, let device, let by, let ts):
            w.field("type", "ack")
            w.field("id", id)
            w.field("device", device.rawValue)
            w.field("by", by)
            w.field("ts", ts)
        case .note(let id, let device, let text, let author, let ts):
            w.field("type", "note")
            w.field("id", id)
            w.field("device", device.rawValue)
            w.field("text", text)
            w.field("author", author)
            w.field("ts", ts)
        }
        w.endObject()
        return w.bytes
    }

    /// Decodes a record. Throws `bad-record` (or `bad-device-id`) when malformed.
    public static func decode(_ bytes: [UInt8]) throws(ReadingRejection) -> OperatorRecord {
        let fields = try bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) in try FlatJSONObject.parse(raw) }
        }.get()
        guard let type = fields["type"]?.string, let id = fields["id"]?.string, !id.isEmpty,
            let ts = fields["ts"]?.int64,
            let rawDevice = fields["device"]?.string
        else { throw ReadingRejection(.badRecord, "operator record needs type, id, device and ts") }
        guard let device = DeviceID(rawDevice) else {
            throw ReadingRejection(
                .badDeviceID, "operator record: device '\(rawDevice.prefix(80))' is not a valid device id")
        }
        switch type {
        case "ack":
            return .acknowledgement(id: id, device: device, by: fields["by"]?.string, ts: ts)
        case "note":
            guard let text = fields["text"]?.string, !text.isEmpty, text.count <= maxNoteLength else {
                throw ReadingRejection(.badRecord, "operator note: text must be 1 to \(maxNoteLength) characters")
            }
            return .note(id: id, device: device, text: text, author: fields["author"]?.string, ts: ts)
        default:
            throw ReadingRejection(.badRecord, "operator record: type must be ack or note, not '\(type.prefix(40))'")
        }
    }
}
