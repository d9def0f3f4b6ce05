/// A duration in whole milliseconds, written in configuration as `500ms`, `10s`, `1m`, `1h`,
/// `1d`, or a sum such as `1m30s`.
public struct TimeSpan: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The duration in milliseconds.
    public var milliseconds: Int64

    /// Creates a span of `milliseconds`.
    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    /// `n` seconds.
    public static func seconds(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 1000) }
    /// `n` minutes.
    public static func minutes(_ n: Int64) -> TimeSpan { TimeSpan(milliseconds: n * 60_000) }

    /// Parses `500ms`, `10s`, `1m`, `1h`, `1d` or sums like `1h30m`; `nil` when malformed, when a
    /// unit is missing, or when the total exceeds 100 years.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        var i = 0
        var total: Int64 = 0
        while i < bytes.count {
            var number: Int64 = 0
            let start = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                number = number * 10 + Int64(bytes[i] - 48)
                guard number < 1_000_000_000_000 else { return nil }
                i += 1
            }
            guard i > start, i < bytes.count else { return nil }
            let unit: Int64
            switch bytes[i] {
            case UInt8(ascii: "m"):
                if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "s") {
                    unit = 1
                    i += 1
                } else {
                    unit = 60_000
                }
            case UInt8(ascii: "s"): unit = 1000
            case UInt8(ascii: "h"): unit = 3_600_000
            case UInt8(ascii: "d"): unit = 86_400_000
            default: return nil
            }
            i += 1
            let (product, overflow) = number.multipliedReportingOverflow(by: unit)
            guard !overflow else { return nil }
            total = total.saturatingAdd(product)
            guard total <= 100 * 365 * 86_400_000 else { return nil }
        }
        milliseconds = total
    }

    /// The shortest text that parses back: `10s`, `1m30s`, `250ms`, `0s`.
    public var description: String {
        guard milliseconds > 0 else { return "0s" }
        var rest = milliseconds
        var text = ""
        for (unit, suffix) in [(Int64(86_400_000), "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")] {
            if rest >= unit {
                text += "\(rest / unit)\(suffix)"
                rest %= unit
            }
        }
        return text
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.milliseconds < rhs.milliseconds }
}
