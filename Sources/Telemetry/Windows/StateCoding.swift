/// Writes the compact binary form of state records (the windowing stage's changelog, see
/// docs/windowing.md): unsigned integers as LEB128 varints, signed ones zigzag-encoded as varints,
/// doubles as their 8 IEEE 754 bytes little-endian (non-finite values included), strings as a
/// varint byte count and their UTF-8 bytes. Pure; no Foundation.
public struct StateWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// An empty writer with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Writes one byte.
    public mutating func byte(_ value: UInt8) {
        bytes.append(value)
    }

    /// Writes an unsigned integer as a LEB128 varint (1 to 10 bytes).
    public mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// Writes a signed integer, zigzag-encoded (small magnitudes take few bytes).
    public mutating func signed(_ value: Int64) {
        varint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    /// Writes 8 bytes, little-endian.
    public mutating func fixed64(_ value: UInt64) {
        var value = value
        for _ in 0..<8 {
            bytes.append(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    /// Writes a double exactly (its bit pattern).
    public mutating func double(_ value: Double) {
        fixed64(value.bitPattern)
    }

    /// Writes a string: byte count, then UTF-8.
    public mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// Writes `nil` as 0, a string as 1 and the string.
    public mutating func optionalString(_ value: String?) {
        guard let value else { return byte(0) }
        byte(1)
        string(value)
    }
}

/// Reads what ``StateWriter`` wrote. Every read is bounds-checked; counts and lengths are checked
/// against limits the caller gives, so a corrupt record costs at most that much memory.
public struct StateReader: Sendable {
    private let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var position: Int

    /// Reads `bytes` from `position`.
    public init(_ bytes: [UInt8], from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    /// Whether every byte has been read.
    public var isAtEnd: Bool { position >= bytes.count }

    /// Reads one byte.
    public mutating func byte() throws(StateDecodingError) -> UInt8 {
        guard position < bytes.count else { throw StateDecodingError("the record ends early (at byte \(position))") }
        defer { position += 1 }
        return bytes[position]
    }

    /// Reads a LEB128 varint.
    public mutating func varint() throws(StateDecodingError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let next = try byte()
            guard shift < 64, shift < 63 || next <= 1 else {
                throw StateDecodingError("a varint at byte \(position) is longer than 64 bits")
            }
            result |= UInt64(next & 0x7F) << shift
            if next < 0x80 { return result }
            shift += 7
        }
    }

    /// Reads a zigzag-encoded signed integer.
    public mutating func signed() throws(StateDecodingError) -> Int64 {
        let raw = try varint()
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads 8 little-endian bytes.
    public mutating func fixed64() throws(StateDecodingError) -> UInt64 {
        guard bytes.count - position >= 8 else { throw StateDecodingError("the record ends early (at byte \(position))") }
        var value: UInt64 = 0
        for index in (0..<8).reversed() { value = value << 8 | UInt64(bytes[position + index]) }
        position += 8
        return value
    }

    /// Reads a double.
    public mutating func double() throws(StateDecodingError) -> Double {
        Double(bitPattern: try fixed64())
    }

    /// Reads a string of at most `maxBytes` bytes of valid UTF-8.
    public mutating func string(maxBytes: Int) throws(StateDecodingError) -> String {
        let count = try count(max: maxBytes, of: "string bytes")
        guard bytes.count - position >= count else { throw StateDecodingError("the record ends early (at byte \(position))") }
        let slice = bytes[position..<position + count]
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw StateDecodingError("a string at byte \(position) is not valid UTF-8")
        }
        position += count
        return text
    }

    /// Reads what ``StateWriter/optionalString(_:)`` wrote.
    public mutating func optionalString(maxBytes: Int) throws(StateDecodingError) -> String? {
        switch try byte() {
        case 0: return nil
        case 1: return try string(maxBytes: maxBytes)
        case let other: throw StateDecodingError("optional string marker \(other) at byte \(position - 1)")
        }
    }

    /// Reads a count (a varint) of at most `max`.
    public mutating func count(max: Int, of what: String) throws(StateDecodingError) -> Int {
        let value = try varint()
        guard value <= UInt64(max) else { throw StateDecodingError("\(value) \(what) exceed the limit of \(max)") }
        return Int(value)
    }
}

/// A state record that cannot be read: truncated, corrupt, or over a limit.
public struct StateDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { "state record: \(message)" }
}

/// FNV-1a 64 over bytes (stable across processes and runs, unlike `Hasher`).
enum FNV1a64 {
    static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
