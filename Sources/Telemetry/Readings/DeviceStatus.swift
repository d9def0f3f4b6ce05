/// A device's presence, from the retained `devices/{deviceId}/status` topic (its last will).
public enum DeviceStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case online
    case offline

    /// Parses a status payload: exactly `online` or `offline` (surrounding ASCII whitespace allowed).
    ///
    /// Throws `bad-status` for anything else.
    public init(parsing payload: some Collection<UInt8>) throws(ReadingRejection) {
        var bytes = Array(payload.prefix(64))
        while let last = bytes.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x0A || first == 0x0D || first == 0x09 {
            bytes.removeFirst()
        }
        if payload.count <= 64, bytes.elementsEqual("online".utf8) {
            self = .online
        } else if payload.count <= 64, bytes.elementsEqual("offline".utf8) {
            self = .offline
        } else {
            throw ReadingRejection(.badStatus, "a status payload must be 'online' or 'offline'")
        }
    }
}
