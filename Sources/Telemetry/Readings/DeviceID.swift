/// A device identifier: 1 to 64 characters from `[A-Za-z0-9_-]`.
///
/// Device ids are taken from the MQTT topic (`devices/{deviceId}/telemetry`), never from the payload.
public struct DeviceID: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The validated id.
    public let rawValue: String

    /// The longest accepted id, in bytes.
    public static let maxLength = 64

    /// Validates `rawValue`; returns `nil` if it does not match `[A-Za-z0-9_-]{1,64}`.
    public init?(_ rawValue: some StringProtocol) {
        guard Self.isValid(rawValue.utf8) else { return nil }
        self.rawValue = String(rawValue)
    }

    /// Validates `rawValue`, throwing a `bad-device-id` rejection that says what is wrong.
    public init(validating rawValue: some StringProtocol) throws(ReadingRejection) {
        guard let id = DeviceID(rawValue) else {
            throw ReadingRejection(
                .badDeviceID,
                "device id '\(rawValue.prefix(80))' must be 1 to 64 characters from A-Z a-z 0-9 _ -"
            )
        }
        self = id
    }

    init(unchecked rawValue: String) { self.rawValue = rawValue }

    /// Whether `bytes` is a valid device id.
    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        let count = bytes.count
        guard count >= 1, count <= maxLength else { return false }
        for byte in bytes where !isIDByte(byte) { return false }
        return true
    }

    @inline(__always)
    static func isIDByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: DeviceID, rhs: DeviceID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let id = DeviceID(raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "invalid device id '\(raw)'")
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
