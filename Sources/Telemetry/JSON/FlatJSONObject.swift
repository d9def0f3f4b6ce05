/// A scalar in a flat JSON record.
enum FlatJSONValue: Equatable {
    case string(String)
    case integer(Int64)
    case unsigned(UInt64)
    case number(Double)
    case bool(Bool)
    case null
    /// A nested object or array (validated and skipped; its byte range is kept).
    case nested(Range<Int>)

    var double: Double? {
        switch self {
        case .integer(let v): Double(v)
        case .unsigned(let v): Double(v)
        case .number(let v): v
        default: nil
        }
    }

    var int64: Int64? {
        switch self {
        case .integer(let v): v
        case .unsigned(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        default: nil
        }
    }

    var string: String? {
        if case .string(let v) = self { v } else { nil }
    }
}

/// Parses a record object whose fields are scalars (nested values are validated and skipped).
enum FlatJSONObject {
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 64) throws(ReadingRejection) -> [String:
        FlatJSONValue]
    {
        var scanner = JSONScanner(bytes, maxDepth: maxDepth)
        var fields: [String: FlatJSONValue] = [:]
        try scanner.expect(UInt8(ascii: "{"), "'{'")
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                let key = scanner.string(try scanner.scanString())
                try scanner.expect(UInt8(ascii: ":"), "':'")
                let value: FlatJSONValue
                switch scanner.peekKind() {
                case .string: value = .string(scanner.string(try scanner.scanString()))
                case .number:
                    let token = try scanner.scanNumber()
                    if token.isInteger, let magnitude = scanner.integerMagnitude(token) {
                        if token.isNegative {
                            guard magnitude <= UInt64(Int64.max) + 1 else {
                                throw scanner.syntax("integer out of range")
                            }
                            value = .integer(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude))
                        } else {
                            value = magnitude <= UInt64(Int64.max) ? .integer(Int64(magnitude)) : .unsigned(magnitude)
                        }
                    } else {
                        value = .number(scanner.double(token))
                    }
                case .literal:
                    let start = scanner.index
                    try scanner.skipValue(depth: 1)
                    switch scanner.bytes[start] {
                    case UInt8(ascii: "t"): value = .bool(true)
                    case UInt8(ascii: "f"): value = .bool(false)
                    default: value = .null
                    }
                case .object, .array:
                    let start = scanner.index
                    try scanner.skipValue(depth: 1)
                    value = .nested(start..<scanner.index)
                case .invalid: throw scanner.syntax("expected a value")
                }
                guard fields.updateValue(value, forKey: key) == nil else {
                    throw ReadingRejection(.duplicateKey, "key '\(key.prefix(80))' appears more than once")
                }
                guard let byte = scanner.peek() else { throw scanner.syntax("unterminated object") }
                scanner.index += 1
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else { throw scanner.syntax("expected ',' or '}'") }
            }
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.syntax("unexpected bytes after the object") }
        return fields
    }
}
