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
/// - RFC 3339 parsing is Foundation's: it rolls invalid dates over (`02-30`, `:60`), needs upper
///   case `T` and `Z`, and milliseconds are rounded from a `Double`.
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
            throw ReadingRejection(.tooLarge, "payload is \(payload.count) bytes; the limit is \(limits.maxPayloadBytes)")
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
            guard let number = raw as? NSNumber, Self.isIntegerLiteral(number), number.int64Value >= 0 || Self.isUnsigned(number)
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
            let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
            guard let date = (try? Date(text, strategy: style)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
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
