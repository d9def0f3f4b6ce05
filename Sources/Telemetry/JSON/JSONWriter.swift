/// A small append-only JSON writer into a byte array (no Foundation).
///
/// Doubles are written in Swift's shortest round-trip form (`description`), which is valid JSON
/// for every finite value; non-finite values are written as `null`.
public struct JSONWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]
    private var needsComma = false

    /// Creates a writer with `capacity` bytes reserved.
    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Starts an object (`{`).
    public mutating func beginObject() {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    /// Ends an object (`}`).
    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    /// Writes `"name":` inside an object.
    public mutating func key(_ name: String) {
        comma()
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes `"name":"value"`.
    public mutating func field(_ name: String, _ value: String) {
        key(name)
        string(value)
    }

    /// Writes `"name":value`.
    public mutating func field(_ name: String, _ value: Int64) {
        key(name)
        integer(value)
    }

    /// Writes `"name":value` (or `null`).
    public mutating func field(_ name: String, _ value: UInt64?) {
        key(name)
        if let value { unsigned(value) } else { null() }
    }

    /// Writes `"name":value` (shortest round-trip; `null` when not finite).
    public mutating func field(_ name: String, _ value: Double) {
        key(name)
        double(value)
    }

    /// Writes `"name":true|false`.
    public mutating func field(_ name: String, _ value: Bool) {
        key(name)
        comma()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    /// Writes `"name":"value"` or `"name":null`.
    public mutating func field(_ name: String, _ value: String?) {
        key(name)
        if let value { string(value) } else { null() }
    }

    /// Writes `null`.
    public mutating func null() {
        comma()
        bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
        needsComma = true
    }

    /// Writes a quoted, escaped string.
    public mutating func string(_ value: String) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            var needsEscape = false
            for byte in utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                needsEscape = true
                break
            }
            if !needsEscape {
                // Common case: nothing to escape.
                bytes.append(contentsOf: utf8)
            } else {
                for byte in utf8 { appendEscaped(byte) }
            }
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    private mutating func appendEscaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(byte)
        case 0x0A:
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "n"))
        case 0x0D:
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "r"))
        case 0x09:
            bytes.append(UInt8(ascii: "\\"))
            bytes.append(UInt8(ascii: "t"))
        case 0..<0x20:
            let hex = "0123456789abcdef".utf8
            bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
            bytes.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte >> 4))])
            bytes.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte & 0xF))])
        default:
            bytes.append(byte)
        }
    }

    /// Writes a signed integer.
    public mutating func integer(_ value: Int64) {
        comma()
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDigits(value.magnitude)
        } else {
            appendDigits(UInt64(value))
        }
        needsComma = true
    }

    /// Writes an unsigned integer.
    public mutating func unsigned(_ value: UInt64) {
        comma()
        appendDigits(value)
        needsComma = true
    }

    /// Writes a double in shortest round-trip form, or `null` when not finite.
    public mutating func double(_ value: Double) {
        guard value.isFinite else {
            null()
            return
        }
        comma()
        if value == value.rounded(), abs(value) < 1e15 {
            // Integral values: "21.0" is fine JSON, but skip the String for the common case.
            if value == 0, value.sign == .minus {
                bytes.append(contentsOf: Array("-0.0".utf8))
            } else {
                if value < 0 { bytes.append(UInt8(ascii: "-")) }
                appendDigits(UInt64(abs(value)))
                bytes.append(UInt8(ascii: "."))
                bytes.append(UInt8(ascii: "0"))
            }
        } else {
            var text = value.description
            text.withUTF8 { bytes.append(contentsOf: $0) }
        }
        needsComma = true
    }

    private mutating func appendDigits(_ value: UInt64) {
        if value < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 20 digits
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { scratch in
            while rest > 0 {
                scratch[count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            var i = count - 1
            while i >= 0 {
                bytes.append(scratch[i])
                i -= 1
            }
        }
    }

    private mutating func comma() {
        if needsComma {
            bytes.append(UInt8(ascii: ","))
            needsComma = false
        }
    }
}
