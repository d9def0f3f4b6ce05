import Foundation

/// A reference implementation of the ingress payload rules on Foundation's `JSONSerialization`
/// and `Date.ISO8601FormatStyle`, used as a test oracle and a benchmark peer for ``ReadingDecoder``.
///
/// Known, documented differences, all from Foundation's leniency or limits:
/// - Foundation accepts a UTF-8 byte-order mark, trailing commas in arrays, and duplicate keys (the
///   last one wins); it rejects numbers that overflow a double anywhere in the document
///   (reported here as `invalid-json`), where ``ReadingDecoder`` says `bad-metric` in `metrics` and
///   ignores them in unknown fields.
/// - Metrics come back sorted by name (Foundation dictionaries are unordered).
/// - Foundation's ISO 8601 parser is far more lenient than RFC 3339 (it takes `T2:24`, `+0:30`,
///   `+1100`, and rolls `02-30` and `:60` over), so the shape and field ranges are checked here first;
///   the conversion to epoch milliseconds is Foundation's (rounded from a `Double`). It needs upper
///   case `T` and `Z`, which RFC 3339 does not.
/// - Foundation's `JSONSerialization` on Linux is not correctly rounded for doubles (seen up to
///   about 10 ulps off on long mantissas); ``ReadingDecoder`` is.
public struct FoundationReadingDecoder: Sendable {
    /// The limits applied.
    public var limits: ReadingLimits

    /// Creates a decoder with `limits`.
    public init(limits: ReadingLimits = .standard) {
        self.limits = limits
    }

    /// Decodes a payload received on `devices/{device}/telemetry`.
    public func decode(_ payload: [UInt8], device: DeviceID) throws(ReadingRejection) -> Reading {
        guard payload.count <= limits.maxPayloadBytes else {
            throw ReadingRejection(
                .tooLarge, "payload is \(payload.count) bytes; the limit is \(limits.maxPayloadBytes)")
        }
        guard String(validating: payload, as: UTF8.self) != nil else {
            throw ReadingRejection(.invalidUTF8, "payload is not valid UTF-8")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(payload))
        } catch {
            if String(describing: error).contains("Too many nested") {
                throw ReadingRejection(.tooDeep, "nesting deeper than \(limits.maxDepth)")
            }
            throw ReadingRejection(.invalidJSON, "invalid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw ReadingRejection(.invalidJSON, "the payload must be a JSON object")
        }
        let ts = try timestamp(dictionary["ts"])
        var seq: UInt64?
        if let raw = dictionary["seq"] {
            guard let number = raw as? NSNumber, Self.isIntegerLiteral(number),
                number.int64Value >= 0 || Self.isUnsigned(number)
            else { throw ReadingRejection(.badSequence, "seq must be an integer in 0...18446744073709551615") }
            seq = number.uint64Value
        }
        guard let rawMetrics = dictionary["metrics"] else {
            throw ReadingRejection(.missingMetrics, "the payload needs a non-empty metrics object")
        }
        guard let metricsObject = rawMetrics as? [String: Any] else {
            throw ReadingRejection(.badMetric, "metrics must be an object of name: number")
        }
        if metricsObject.count > limits.maxMetrics {
            throw ReadingRejection(.tooManyMetrics, "\(metricsObject.count) metrics; the limit is \(limits.maxMetrics)")
        }
        guard !metricsObject.isEmpty else {
            throw ReadingRejection(.missingMetrics, "the payload needs a non-empty metrics object")
        }
        var metrics: [Metric] = []
        for (name, raw) in metricsObject.sorted(by: { $0.key < $1.key }) {
            guard Metric.isValidName(name) else { throw ReadingRejection(.badMetric, "bad metric name '\(name)'") }
            guard let number = raw as? NSNumber, !Self.isBool(number), number.doubleValue.isFinite else {
                throw ReadingRejection(.badMetric, "metric '\(name)' must be a finite number")
            }
            metrics.append(Metric(name, number.doubleValue))
        }
        return Reading(device: device, ts: ts, seq: seq, metrics: metrics)
    }

    private func timestamp(_ raw: Any?) throws(ReadingRejection) -> Int64 {
        guard let raw else { throw ReadingRejection(.missingTimestamp, "the payload has no ts field") }
        let value: Int64
        if let text = raw as? String {
            guard Self.hasRFC3339Shape(text) else {
                throw ReadingRejection(.badTimestamp, "ts is not an RFC 3339 date-time")
            }
            let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            guard
                let date = (try? Date(text, strategy: style)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
            else { throw ReadingRejection(.badTimestamp, "ts is not an RFC 3339 date-time") }
            value = Int64((date.timeIntervalSince1970 * 1000).rounded())
        } else if let number = raw as? NSNumber, Self.isIntegerLiteral(number), !Self.isUnsigned(number) {
            value = number.int64Value
        } else {
            throw ReadingRejection(.badTimestamp, "ts must be epoch milliseconds (integer) or an RFC 3339 string")
        }
        guard value >= limits.minTimestamp, value <= limits.maxTimestamp else {
            throw ReadingRejection(.badTimestamp, "ts \(value) is out of range")
        }
        return value
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f+](Z|±HH:MM)` with valid calendar fields (checked without Foundation).
    static func hasRFC3339Shape(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func digits(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= b.count else { return nil }
            var v = 0
            for i in range {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let y = digits(0..<4), let mo = digits(5..<7), let d = digits(8..<10),
            let h = digits(11..<13), let mi = digits(14..<16), let s = digits(17..<19),
            b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58,
            (1...12).contains(mo), d >= 1, d <= RFC3339.daysInMonth(year: y, month: mo), h < 24, mi < 60, s < 60
        else { return false }
        var i = 19
        if b[i] == 46 {
            i += 1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 { i += 1 }
            guard i > start else { return false }
        }
        guard i < b.count else { return false }
        if b[i] == 90 { return i + 1 == b.count }
        guard b[i] == 43 || b[i] == 45, b.count == i + 6, let oh = digits(i + 1..<i + 3), b[i + 3] == 58,
            let om = digits(i + 4..<i + 6), oh < 24, om < 60
        else { return false }
        return true
    }

    private static func isBool(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    private static func isUnsigned(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "Q"
    }

    /// Foundation keeps integer literals as integer types and everything with `.` or `e` as `d`.
    private static func isIntegerLiteral(_ number: NSNumber) -> Bool {
        switch String(cString: number.objCType) {
        case "c", "d", "f": false
        default: true
        }
    }
}
