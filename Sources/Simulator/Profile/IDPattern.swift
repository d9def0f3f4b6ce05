/// A device id pattern such as `greenhouse-{n:03}`.
///
/// Placeholders: `{n}` the device number, `{n:0W}` the number zero-padded to `W` digits,
/// `{type}` the type name. Everything else is literal.
public struct IDPattern: Sendable, Hashable, CustomStringConvertible {
    enum Segment: Sendable, Hashable {
        case literal(String)
        case number(width: Int)
        case typeName
    }

    let segments: [Segment]
    /// The pattern as written.
    public let description: String

    /// `{type}-{n:03}`.
    public static let defaultPattern = IDPattern(
        segments: [.typeName, .literal("-"), .number(width: 3)],
        description: "{type}-{n:03}"
    )

    init(segments: [Segment], description: String) {
        self.segments = segments
        self.description = description
    }

    /// Parses a pattern; returns a message saying what is wrong on failure.
    public static func parse(_ text: String) -> Result<IDPattern, PatternError> {
        var segments: [Segment] = []
        var literal = ""
        var rest = Substring(text)
        var hasNumber = false
        while let first = rest.first {
            if first == "{" {
                guard let close = rest.firstIndex(of: "}") else {
                    return .failure(PatternError(message: "unclosed '{' in id pattern '\(text)'"))
                }
                let name = rest[rest.index(after: rest.startIndex)..<close]
                if !literal.isEmpty {
                    segments.append(.literal(literal))
                    literal = ""
                }
                if name == "n" {
                    segments.append(.number(width: 0))
                    hasNumber = true
                } else if name == "type" {
                    segments.append(.typeName)
                } else if name.hasPrefix("n:0"), let width = Int(name.dropFirst(3)), (1...9).contains(width) {
                    segments.append(.number(width: width))
                    hasNumber = true
                } else {
                    return .failure(
                        PatternError(
                            message:
                                "unknown placeholder '{\(name)}' in id pattern '\(text)'; use {n}, {n:03} or {type}"
                        )
                    )
                }
                rest = rest[rest.index(after: close)...]
            } else {
                literal.append(first)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { segments.append(.literal(literal)) }
        guard hasNumber else {
            return .failure(
                PatternError(
                    message: "id pattern '\(text)' has no {n} placeholder, so every device would get the same id"
                )
            )
        }
        return .success(IDPattern(segments: segments, description: text))
    }

    /// The id of device number `number` of type `typeName`.
    public func deviceID(number: Int, typeName: String) -> String {
        var result = ""
        for segment in segments {
            switch segment {
            case .literal(let text): result += text
            case .typeName: result += typeName
            case .number(let width):
                let digits = String(number)
                if digits.count < width { result += String(repeating: "0", count: width - digits.count) }
                result += digits
            }
        }
        return result
    }

    /// Why a pattern could not be parsed.
    public struct PatternError: Error, Sendable, Hashable {
        /// What is wrong and how to fix it.
        public var message: String
    }
}

/// Name rules of the MQTT payload contract.
enum NameRules {
    /// `[A-Za-z0-9_-]{1,64}`.
    static func isValidDeviceID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard (1...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// `[A-Za-z0-9_.-]{1,64}`.
    static func isValidMetricName(_ name: String) -> Bool {
        let utf8 = name.utf8
        guard (1...64).contains(utf8.count) else { return false }
        return utf8.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
        }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
