/// A device status change as stored in the status topic and sent to dashboards as
/// `device-status`: `{"device":"greenhouse-1","status":"offline","ts":1764400030000}`.
public struct DeviceStatusRecord: Sendable, Hashable {
    public var device: DeviceID
    public var status: DeviceStatus
    /// When the change was observed, epoch milliseconds.
    public var ts: Int64

    public init(device: DeviceID, status: DeviceStatus, ts: Int64) {
        self.device = device
        self.status = status
        self.ts = ts
    }

    /// The record's JSON bytes.
    public func encoded() -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + device.rawValue.utf8.count)
        writer.beginObject()
        writer.field("device", device.rawValue)
        writer.field("status", status.rawValue)
        writer.field("ts", ts)
        writer.endObject()
        return writer.bytes
    }
}
