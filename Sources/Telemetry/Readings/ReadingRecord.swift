/// The normalized reading record of `fluxgate.readings`:
/// `{"device":"d1","ts":1764400000000,"seq":17,"metrics":{"temperature":21.4}}`.
///
/// Keys appear in that order; `seq` is `null` when the device sent none; metrics keep payload
/// order; doubles are printed in shortest round-trip form. The Kafka key is the device id and the
/// header `fluxgate-received-at` carries the ingress wall clock (epoch ms).
public enum ReadingRecord {
    /// The Kafka header with the ingress wall clock, epoch milliseconds as decimal text.
    public static let receivedAtHeader = "fluxgate-received-at"

    /// Encodes `reading` as a record (no Foundation).
    public static func encode(_ reading: Reading) -> [UInt8] {
        var writer = JSONWriter(capacity: 64 + reading.metrics.count * 24)
        encode(reading, into: &writer)
        return writer.bytes
    }

    /// Writes `reading` as a record object into `writer`.
    public static func encode(_ reading: Reading, into writer: inout JSONWriter) {
        writer.beginObject()
        writer.field("device", reading.device.rawValue)
        writer.field("ts", reading.ts)
        writer.field("seq", reading.seq)
        writer.key("metrics")
        writer.beginObject()
        for metric in reading.metrics { writer.field(metric.name, metric.value) }
        writer.endObject()
        writer.endObject()
    }

    /// Decodes a record, applying the same rules as the ingress payload plus a required `device`.
    ///
    /// A missing `device` throws `bad-record`; the other reason codes are those of ``ReadingDecoder``.
    public static func decode(_ bytes: [UInt8], limits: ReadingLimits = .standard) throws(ReadingRejection) -> Reading {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) -> Reading in try decode(raw, limits: limits) }
        }
        return try result.get()
    }

    /// Decodes a record from raw bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer, limits: ReadingLimits = .standard)
        throws(ReadingRejection) -> Reading
    {
        guard bytes.count <= limits.maxPayloadBytes else {
            throw ReadingRejection(.tooLarge, "record is \(bytes.count) bytes; the limit is \(limits.maxPayloadBytes)")
        }
        var parser = PayloadParser(scanner: JSONScanner(bytes, maxDepth: limits.maxDepth), limits: limits)
        parser.recordMode = true
        try parser.parse()
        guard parser.sawDevice else { throw ReadingRejection(.badRecord, "the record has no device field") }
        guard let device = parser.device else {
            throw parser.deviceError ?? ReadingRejection(.badDeviceID, "device must be a valid device id")
        }
        return try parser.reading(device: device)
    }
}
