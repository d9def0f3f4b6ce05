/// Parses durations such as `250ms`, `30s`, `5m`, `1h`, `1.5h`, `1d` into milliseconds.
///
/// A bare number means seconds.
enum DurationText {
    static func milliseconds(_ text: String) -> Int64? {
        let trimmed = text.trimmingSpaces()
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingSpaces()
            // "ms" must win over "s": "250ms" ends with "s" too, but "250m" is not a number.
            guard let value = Double(number), value.isFinite, value >= 0 else { continue }
            return checked(value * scale)
        }
        guard let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 else { return nil }
        return checked(seconds * 1000)
    }

    private static func checked(_ milliseconds: Double) -> Int64? {
        guard milliseconds < 1e15 else { return nil }
        return Int64(milliseconds.rounded())
    }

    /// `90000` -> `1m30s`, for messages and docs.
    static func format(_ milliseconds: Int64) -> String {
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
