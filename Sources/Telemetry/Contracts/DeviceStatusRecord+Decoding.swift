extension DeviceStatusRecord {
    /// Decodes a status record (`{"device","status","ts"}`). Throws `bad-record` when malformed.
    public static func decode(_ bytes: [UInt8]) throws(ReadingRejection) -> DeviceStatusRecord {
        let fields = try bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) in try FlatJSONObject.parse(raw) }
        }.get()
        guard let device = fields["device"]?.string.flatMap({ DeviceID($0) }),
            let status = fields["status"]?.string.flatMap({ DeviceStatus(rawValue: $0) }), let ts = fields["ts"]?.int64
        else { throw ReadingRejection(.badRecord, "status record needs device, status (online|offline) and ts") }
        return DeviceStatusRecord(device: device, status: status, ts: ts)
    }
}
