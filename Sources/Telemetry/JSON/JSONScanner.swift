/// A strict, sequential JSON (RFC 8259) scanner over a byte buffer.
///
/// It never recurses: nested values are skipped with an explicit depth counter and a fixed-size
/// bit stack, so hostile nesting ends in a `too-deep` rejection rather than a stack overflow.
/// It allocates only when a string contains escapes or a number needs the slow double path.
struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index: Int = 0
    let maxDepth: Int

    init(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// A scanned string: the bytes between the quotes, still escaped when `hasEscapes`.
    struct StringToken {
        var start: Int
        var end: Int
        var hasEscapes: Bool
    }

    /// A scanned number literal.
    struct NumberToken {
        var start: Int
        var end: Int
        /// No fraction and no exponent.
        var isInteger: Bool
        var isNegative: Bool
    }

    var isAtEnd: Bool { index >= bytes.count }

    @inline(__always)
    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The next non-whitespace byte, without consuming it; `nil` at the end.
    @inline(__always)
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    func syntax(_ what: String) -> ReadingRejection {
        ReadingRejection(.invalidJSON, "\(what) at byte \(index)")
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8, _ what: String) throws(ReadingRejection) {
        guard peek() == byte else { throw syntax("expected \(what)") }
        index += 1
    }

    // MARK: Strings

    /// Scans a string starting at the opening quote; validates escapes, control characters and UTF-8.
    mutating func scanString() throws(ReadingRejection) -> StringToken {
        guard peek() == UInt8(ascii: "\"") else { throw syntax("expected a string") }
        index += 1
        let start = index
        var hasEscapes = false
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let token = StringToken(start: start, end: index, hasEscapes: hasEscapes)
                index += 1
                return token
            } else if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                try scanEscape()
            } else if byte < 0x20 {
                throw syntax("unescaped control character in string")
            } else if byte < 0x80 {
                index += 1
            } else {
                try scanUTF8Sequence()
            }
        }
        throw syntax("unterminated string")
    }

    private mutating func scanEscape() throws(ReadingRejection) {
        index += 1  // the backslash
        guard index < bytes.count else { throw syntax("unterminated escape") }
        switch bytes[index] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            index += 1
            let unit = try hex4()
            if unit >= 0xD800, unit <= 0xDBFF {
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                else { throw syntax("unpaired surrogate escape") }
                index += 2
                let low = try hex4()
                guard low >= 0xDC00, low <= 0xDFFF else { throw syntax("unpaired surrogate escape") }
            } else if unit >= 0xDC00, unit <= 0xDFFF {
                throw syntax("unpaired surrogate escape")
            }
        default:
            throw syntax("invalid escape")
        }
    }

    private mutating func hex4() throws(ReadingRejection) -> UInt32 {
        guard index + 4 <= bytes.count else { throw syntax("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Self.hexValue(bytes[index]) else { throw syntax("invalid \\u escape") }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
    private mutating func scanUTF8Sequence() throws(ReadingRejection) {
        let lead = bytes[index]
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            upper = 0x9F
        case 0xF0:
            length = 4
            lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            upper = 0x8F
        default: throw ReadingRejection(.invalidUTF8, "invalid UTF-8 lead byte at byte \(index)")
        }
        guard index + length <= bytes.count else {
            throw ReadingRejection(.invalidUTF8, "truncated UTF-8 sequence at byte \(index)")
        }
        let second = bytes[index + 1]
        guard second >= lower, second <= upper else {
            throw ReadingRejection(.invalidUTF8, "invalid UTF-8 sequence at byte \(index)")
        }
        var k = 2
        while k < length {
            guard bytes[index + k] & 0xC0 == 0x80 else {
                throw ReadingRejection(.invalidUTF8, "invalid UTF-8 sequence at byte \(index)")
            }
            k += 1
        }
        index += length
    }

    /// The unescaped bytes of a validated string token.
    func unescaped(_ token: StringToken) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.end - token.start)
        var i = token.start
        while i < token.end {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            let kind = bytes[i + 1]
            i += 2
            switch kind {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hexAt(i)
                i += 4
                if scalar >= 0xD800, scalar <= 0xDBFF {
                    let low = hexAt(i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &out)
            default: out.append(kind)  // " \ /
            }
        }
        return out
    }

    private func hexAt(_ i: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | (Self.hexValue(bytes[i + k]) ?? 0) }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to out: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            out.append(UInt8(scalar))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | scalar >> 6))
            out.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | scalar >> 12))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        default:
            out.append(UInt8(0xF0 | scalar >> 18))
            out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            out.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Whether a string token, once unescaped, equals `literal` (ASCII).
    func stringEquals(_ token: StringToken, _ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        if !token.hasEscapes {
            guard token.end - token.start == count else { return false }
            let pointer = literal.utf8Start
            for k in 0..<count where bytes[token.start + k] != pointer[k] { return false }
            return true
        }
        let decoded = unescaped(token)
        guard decoded.count == count else { return false }
        let pointer = literal.utf8Start
        for k in 0..<count where decoded[k] != pointer[k] { return false }
        return true
    }

    /// The string token decoded as a Swift string.
    func string(_ token: StringToken) -> String {
        if token.hasEscapes { return String(decoding: unescaped(token), as: UTF8.self) }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
    }

    // MARK: Numbers

    /// Scans a number literal per RFC 8259: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    mutating func scanNumber() throws(ReadingRejection) -> NumberToken {
        skipWhitespace()
        let start = index
        let count = bytes.count
        var isNegative = false
        if index < count, bytes[index] == UInt8(ascii: "-") {
            isNegative = true
            index += 1
        }
        guard index < count else { throw syntax("truncated number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if bytes[index] >= UInt8(ascii: "1"), bytes[index] <= UInt8(ascii: "9") {
            index += 1
            while index < count, Self.isDigit(bytes[index]) { index += 1 }
        } else {
            throw syntax("invalid number")
        }
        var isInteger = true
        if index < count, bytes[index] == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            guard index < count, Self.isDigit(bytes[index]) else { throw syntax("digit expected after '.'") }
            while index < count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if index < count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < count, Self.isDigit(bytes[index]) else { throw syntax("digit expected in exponent") }
            while index < count, Self.isDigit(bytes[index]) { index += 1 }
        }
        return NumberToken(start: start, end: index, isInteger: isInteger, isNegative: isNegative)
    }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// The value of an integer token as a magnitude, or `nil` if it exceeds `UInt64.max`.
    func integerMagnitude(_ token: NumberToken) -> UInt64? {
        var value: UInt64 = 0
        var i = token.isNegative ? token.start + 1 : token.start
        while i < token.end {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[i] &- UInt8(ascii: "0")))
            if o1 || o2 { return nil }
            value = sum
            i += 1
        }
        return value
    }

    /// The double value of a number token, correctly rounded (may be ±infinity on overflow).
    func double(_ token: NumberToken) -> Double {
        // Clinger's fast path: a mantissa below 2^53 scaled by an exactly representable power of ten
        // is exact after one correctly rounded multiplication or division.
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var i = token.isNegative ? token.start + 1 : token.start
        var fastPath = true
        while i < token.end, Self.isDigit(bytes[i]) {
            if mantissa == 0 && bytes[i] == UInt8(ascii: "0") {
                i += 1
                continue
            }
            mantissa = mantissa &* 10 &+ UInt64(bytes[i] &- UInt8(ascii: "0"))
            digits += 1
            i += 1
        }
        if i < token.end, bytes[i] == UInt8(ascii: ".") {
            i += 1
            while i < token.end, Self.isDigit(bytes[i]) {
                if !(mantissa == 0 && bytes[i] == UInt8(ascii: "0")) {
                    mantissa = mantissa &* 10 &+ UInt64(bytes[i] &- UInt8(ascii: "0"))
                    digits += 1
                }
                exponent -= 1
                i += 1
            }
        }
        if i < token.end {  // exponent part
            i += 1
            var negativeExponent = false
            if bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
                negativeExponent = bytes[i] == UInt8(ascii: "-")
                i += 1
            }
            var e = 0
            while i < token.end {
                if e < 100_000 { e = e * 10 + Int(bytes[i] &- UInt8(ascii: "0")) } else { fastPath = false }
                i += 1
            }
            exponent += negativeExponent ? -e : e
        }
        if digits > 15 { fastPath = false }
        if fastPath, mantissa == 0 { return token.isNegative ? -0.0 : 0.0 }
        if fastPath, mantissa < (1 << 53), exponent >= -22, exponent <= 22 {
            var value = Double(mantissa)
            value = exponent < 0 ? value / Self.powersOfTen[-exponent] : value * Self.powersOfTen[exponent]
            return token.isNegative ? -value : value
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[token.start..<token.end]), as: UTF8.self)
        return Double(text) ?? .nan
    }

    static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    // MARK: Literals and skipping

    private mutating func literal(_ text: StaticString) throws(ReadingRejection) {
        let count = text.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw syntax("invalid literal") }
        let pointer = text.utf8Start
        for k in 0..<count where bytes[index + k] != pointer[k] { throw syntax("invalid literal") }
        index += count
    }

    /// The kind of the value that starts at the next non-whitespace byte.
    enum ValueKind { case object, array, string, number, literal, invalid }

    mutating func peekKind() -> ValueKind {
        guard let byte = peek() else { return .invalid }
        switch byte {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): return .literal
        default: return .invalid
        }
    }

    /// Whether the next value is the literal `null` (not consumed).
    mutating func peekNull() -> Bool {
        guard peek() == UInt8(ascii: "n"), index + 4 <= bytes.count else { return false }
        return bytes[index + 1] == UInt8(ascii: "u") && bytes[index + 2] == UInt8(ascii: "l")
            && bytes[index + 3] == UInt8(ascii: "l")
    }

    /// Validates and skips one complete value whose enclosing containers are `depth` deep.
    ///
    /// Iterative: a 512-bit stack (one bit per level: object or array) replaces recursion.
    mutating func skipValue(depth: Int) throws(ReadingRejection) {
        var stack = BitStack()
        var level = 0
        while true {
            // A value starts here.
            switch peekKind() {
            case .object:
                index += 1
                level += 1
                guard depth + level <= maxDepth, level <= BitStack.capacity else { throw tooDeep() }
                stack.set(level, isObject: true)
                if peek() == UInt8(ascii: "}") {
                    index += 1
                    level -= 1
                } else {
                    _ = try scanString()
                    try expect(UInt8(ascii: ":"), "':'")
                    continue
                }
            case .array:
                index += 1
                level += 1
                guard depth + level <= maxDepth, level <= BitStack.capacity else { throw tooDeep() }
                stack.set(level, isObject: false)
                if peek() == UInt8(ascii: "]") {
                    index += 1
                    level -= 1
                } else {
                    continue
                }
            case .string: _ = try scanString()
            case .number: _ = try scanNumber()
            case .literal:
                switch bytes[index] {
                case UInt8(ascii: "t"): try literal("true")
                case UInt8(ascii: "f"): try literal("false")
                default: try literal("null")
                }
            case .invalid: throw syntax("expected a value")
            }
            // After a value: close containers or move to the next element.
            while true {
                if level == 0 { return }
                guard let byte = peek() else { throw syntax("unterminated container") }
                let inObject = stack.isObject(level)
                if byte == UInt8(ascii: ",") {
                    index += 1
                    if inObject {
                        _ = try scanString()
                        try expect(UInt8(ascii: ":"), "':'")
                    }
                    break
                } else if byte == (inObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    index += 1
                    level -= 1
                } else {
                    throw syntax(inObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
            }
        }
    }

    func tooDeep() -> ReadingRejection {
        ReadingRejection(.tooDeep, "nesting deeper than \(maxDepth) at byte \(index)")
    }
}

/// 512 bits of container kinds, one per nesting level, without heap allocation.
struct BitStack {
    static let capacity = 512
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    mutating func set(_ level: Int, isObject: Bool) {
        let bit = (level - 1) & 63
        withUnsafeMutableBytes(of: &words) { raw in
            let words = raw.bindMemory(to: UInt64.self)
            let w = (level - 1) >> 6
            if isObject { words[w] |= 1 << bit } else { words[w] &= ~(1 << bit) }
        }
    }

    func isObject(_ level: Int) -> Bool {
        withUnsafeBytes(of: words) { raw in
            raw.load(fromByteOffset: ((level - 1) >> 6) * 8, as: UInt64.self) >> ((level - 1) & 63) & 1 == 1
        }
    }
}
