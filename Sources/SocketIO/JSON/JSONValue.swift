import NIOCore

/// A JSON value as carried by Socket.IO packets, with object keys kept in wire order.
///
/// `binary` is the Socket.IO extension: a binary attachment. It is sent as a separate
/// Engine.IO binary message and replaced by a `{"_placeholder":true,"num":N}` object in the
/// JSON text; received attachments are put back in its place.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in the order they were written; duplicate keys are kept as received.
    case object([(key: String, value: JSONValue)])
    case binary(ByteBuffer)

    /// Convenience: an object from key/value pairs, in the given order.
    public static func object(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue {
        .object(pairs.map { (key: $0.key, value: $0.value) })
    }

    /// The value of the first member named `key`, when this is an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, when this is a number.
    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The elements, when this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// True when this value or any nested value is `binary`.
    public var containsBinary: Bool {
        switch self {
        case .binary: return true
        case .array(let values): return values.contains(where: \.containsBinary)
        case .object(let members): return members.contains(where: { $0.value.containsBinary })
        default: return false
        }
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.binary(let a), .binary(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let value): hasher.combine(value)
        case .number(let value): hasher.combine(value)
        case .string(let value): hasher.combine(value)
        case .array(let values): hasher.combine(values)
        case .binary(let buffer): hasher.combine(buffer)
        case .object(let members):
            hasher.combine(members.count)
            for member in members {
                hasher.combine(member.key)
                hasher.combine(member.value)
            }
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral,
    ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(elements.map { (key: $0.0, value: $0.1) })
    }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text (binary values are shown as `{"_binary":<byte count>}`).
    public var description: String {
        var out = ""
        JSONWriter.write(self, into: &out) { buffer, out in out += "{\"_binary\":\(buffer.readableBytes)}" }
        return out
    }

    /// Compact JSON text, the same bytes `JSON.stringify` produces for the same value.
    /// Binary values must have been replaced by placeholders; any left are written as `null`.
    public var jsonText: String {
        var out = ""
        JSONWriter.write(self, into: &out) { _, out in out += "null" }
        return out
    }
}

/// Serialises `JSONValue` as compact JSON, matching `JSON.stringify` for numbers and escapes.
enum JSONWriter {
    static func write(
        _ value: JSONValue,
        into out: inout String,
        binary: (ByteBuffer, inout String) -> Void
    ) {
        switch value {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let number): writeNumber(number, into: &out)
        case .string(let string): writeString(string, into: &out)
        case .binary(let buffer): binary(buffer, &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                write(element, into: &out, binary: binary)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                writeString(member.key, into: &out)
                out += ":"
                write(member.value, into: &out, binary: binary)
            }
            out += "}"
        }
    }

    static func writeNumber(_ number: Double, into out: inout String) {
        guard number.isFinite else {
            out += "null"  // JSON.stringify(NaN) === "null"
            return
        }
        if number == number.rounded(), abs(number) < 9_007_199_254_740_992 {
            out += String(Int64(number))
        } else {
            out += "\(number)"
        }
    }

    /// Escapes as `JSON.stringify` does. Runs of characters that need no escape are appended
    /// as one slice (appending scalar by scalar to a `UnicodeScalarView` cost about a third of
    /// the hub's CPU at 5,000 events/s).
    static func writeString(_ string: String, into out: inout String) {
        out += "\""
        let utf8 = string.utf8
        var runStart = utf8.startIndex
        var index = runStart
        while index != utf8.endIndex {
            let byte = utf8[index]
            // Bytes of multi-byte UTF-8 sequences are all >= 0x80: escapes are ASCII only, so
            // every run boundary is a scalar boundary.
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                utf8.formIndex(after: &index)
                continue
            }
            out += string[runStart..<index]
            switch byte {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\r"): out += "\\r"
            case UInt8(ascii: "\t"): out += "\\t"
            case 0x08: out += "\\b"
            case 0x0C: out += "\\f"
            default:
                let hex = String(byte, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
            utf8.formIndex(after: &index)
            runStart = index
        }
        out += string[runStart..<index]
        out += "\""
    }
}
