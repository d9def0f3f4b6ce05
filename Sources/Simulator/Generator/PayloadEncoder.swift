/// Writes telemetry payloads exactly as the MQTT contract shows them:
/// `{"ts":1764400000000,"seq":17,"metrics":{"temperature":21.4}}`.
///
/// Doubles use Swift's shortest round-trip `description`; metric names are validated against
/// `[A-Za-z0-9_.-]{1,64}`, so they need no escaping.
public enum PayloadEncoder {
    /// The payload bytes of one reading. `values` must be finite (the generator guarantees it).
    public static func telemetry(ts: Int64, seq: UInt64, metrics names: [String], values: [Double]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(40 + names.count * 24)
        bytes.append(contentsOf: #"{"ts":"#.utf8)
        bytes.append(contentsOf: String(ts).utf8)
        bytes.append(contentsOf: #","seq":"#.utf8)
        bytes.append(contentsOf: String(seq).utf8)
        bytes.append(contentsOf: #","metrics":{"#.utf8)
        for index in names.indices {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: names[index].utf8)
            bytes.append(contentsOf: #"":"#.utf8)
            let value = values[index]
            bytes.append(contentsOf: (value.isFinite ? value.description : "0").utf8)
        }
        bytes.append(contentsOf: "}}".utf8)
        return bytes
    }
}
