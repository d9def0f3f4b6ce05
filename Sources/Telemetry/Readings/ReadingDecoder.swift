/// The ingress hot path: a strict, purpose-built decoder of device payloads
/// (`{"ts": 1764400000000, "seq": 17, "metrics": {"temperature": 21.4}}`).
///
/// Sequential and non-recursive; it allocates only the reading's metric array and names, plus
/// small buffers for escaped strings, unknown top-level keys and non-trivial numbers.
///
/// Rules (see docs/telemetry.md):
/// - at most ``ReadingLimits/maxPayloadBytes``; valid UTF-8; strict RFC 8259 (no BOM, no
///   trailing commas, no comments, nothing after the object); the top level is an object;
/// - nesting at most ``ReadingLimits/maxDepth`` levels (top-level object = 1);
/// - `ts`: an integer literal of epoch milliseconds or an RFC 3339 string, within the limits;
/// - `seq`: optional integer literal in 0...UInt64.max (`-0` counts as 0);
/// - `metrics`: an object of 1...64 finite numbers named `[A-Za-z0-9_.-]{1,64}`;
/// - duplicate keys (top level or in `metrics`) are rejected;
/// - unknown top-level keys are ignored, but their values must still be valid JSON.
///
/// When several problems exist, the reason reported is the first in this order:
/// `too-large`, `invalid-utf8`, `invalid-json` / `too-deep` (whichever the scan meets first),
/// `duplicate-key`, `missing-ts` / `bad-ts`, `bad-seq`, `bad-metric` (not an object),
/// `too-many-metrics`, `missing-metrics`, `bad-metric` (first bad entry).
public struct ReadingDecoder: Sendable {
    /// The limits applied.
    public var limits: ReadingLimits

    /// Creates a decoder with `limits` (the contract's defaults unless given).
    public init(limits: ReadingLimits = .standard) {
        self.limits = limits
    }

    /// Decodes a payload received on `devices/{device}/telemetry`.
    public func decode(_ payload: [UInt8], device: DeviceID) throws(ReadingRejection) -> Reading {
        let result = payload.withUnsafeBytes { raw in
            Result { () throws(ReadingRejection) -> Reading in try decode(raw, device: device) }
        }
        return try result.get()
    }

    /// Decodes a payload received on `devices/{device}/telemetry`.
    public func decode(_ payload: UnsafeRawBufferPointer, device: DeviceID) throws(ReadingRejection) -> Reading {
        guard payload.count <= limits.maxPayloadBytes else {
            throw ReadingRejection(
                .tooLarge, "payload is \(payload.count) bytes; the limit is \(limits.maxPayloadBytes)")
        }
        var parser = PayloadParser(scanner: JSONScanner(payload, maxDepth: limits.maxDepth), limits: limits)
        do {
            try parser.parse()
        } catch {
            // A syntax error may hide invalid UTF-8 further on; invalid UTF-8 is reported first.
            if error.reason != .invalidUTF8, !UTF8Validation.isValid(payload) {
                throw ReadingRejection(.invalidUTF8, "payload is not valid UTF-8")
            }
            throw error
        }
        return try parser.reading(device: device)
    }

    /// Parses the topic and decodes the payload of a telemetry message in one step.
    ///
    /// Throws `bad-topic` for a status or foreign topic and `bad-device-id` for a bad id.
    public func decode(topic: String, payload: [UInt8]) throws(ReadingRejection) -> Reading {
        guard case .telemetry(let device) = try TelemetryTopic(parsing: topic) else {
            throw ReadingRejection(.badTopic, "topic '\(topic.prefix(120))' is not a telemetry topic")
        }
        return try decode(payload, device: device)
    }
}

/// Whole-buffer UTF-8 validation (used on error paths only).
enum UTF8Validation {
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// One pass over a payload, remembering the first semantic problem of each field.
struct PayloadParser {
    var scanner: JSONScanner
    let limits: ReadingLimits

    var ts: Int64?
    var tsError: ReadingRejection?
    var sawTimestamp = false
    var seq: UInt64?
    var seqError: ReadingRejection?
    var sawMetrics = false
    var metricsNotObject = false
    var metrics: [Metric] = []
    var metricCount = 0
    /// Names whose value was rejected (rare), for duplicate detection without a second array.
    var namesWithBadValues: [String] = []
    var metricError: ReadingRejection?
    var duplicateError: ReadingRejection?
    var unknownKeys: Set<[UInt8]> = []
    /// Record mode (`fluxgate.readings`): a `device` field is required and `seq` may be `null`.
    var recordMode = false
    var device: DeviceID?
    var deviceError: ReadingRejection?
    var sawDevice = false

    init(scanner: JSONScanner, limits: ReadingLimits) {
        self.scanner = scanner
        self.limits = limits
    }

    mutating func parse() throws(ReadingRejection) {
        guard scanner.peek() == UInt8(ascii: "{") else {
            throw scanner.syntax("the payload must be a JSON object")
        }
        scanner.index += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
        } else {
            while true {
                let key = try scanner.scanString()
                try scanner.expect(UInt8(ascii: ":"), "':'")
                try field(key)
                guard let byte = scanner.peek() else { throw scanner.syntax("unterminated object") }
                scanner.index += 1
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else { throw scanner.syntax("expected ',' or '}'") }
            }
        }
        scanner.skipWhitespace()
        guard scanner.isAtEnd else { throw scanner.syntax("unexpected bytes after the object") }
    }

    private mutating func duplicate(_ name: String) {
        if duplicateError == nil {
            duplicateError = ReadingRejection(.duplicateKey, "key '\(name.prefix(80))' appears more than once")
        }
    }

    private mutating func field(_ key: JSONScanner.StringToken) throws(ReadingRejection) {
        if scanner.stringEquals(key, "ts") {
            if sawTimestamp { duplicate("ts") }
            sawTimestamp = true
            try timestamp()
        } else if scanner.stringEquals(key, "seq") {
            if seq != nil || seqError != nil { duplicate("seq") }
            try sequence()
        } else if recordMode, scanner.stringEquals(key, "device") {
            if sawDevice { duplicate("device") }
            sawDevice = true
            var id: DeviceID?
            if scanner.peekKind() == .string {
                id = DeviceID(scanner.string(try scanner.scanString()))
            } else {
                try scanner.skipValue(depth: 1)
            }
            if let id {
                device = id
            } else {
                deviceError = ReadingRejection(.badDeviceID, "device must be a valid device id")
            }
        } else if scanner.stringEquals(key, "metrics") {
            if sawMetrics { duplicate("metrics") }
            sawMetrics = true
            try metricsObject()
        } else {
            let name = scanner.unescaped(key)
            if !unknownKeys.insert(name).inserted { duplicate(String(decoding: name, as: UTF8.self)) }
            try scanner.skipValue(depth: 1)
        }
    }

    private mutating func timestamp() throws(ReadingRejection) {
        switch scanner.peekKind() {
        case .number:
            let token = try scanner.scanNumber()
            guard token.isInteger else {
                setTimestampError("ts must be an integer of epoch milliseconds, without fraction or exponent")
                return
            }
            guard let magnitude = scanner.integerMagnitude(token), magnitude <= UInt64(Int64.max) else {
                setTimestampError("ts is out of range")
                return
            }
            let value = token.isNegative ? -Int64(magnitude) : Int64(magnitude)
            acceptTimestamp(value)
        case .string:
            let token = try scanner.scanString()
            let parsed: Int64?
            if token.hasEscapes {
                parsed = scanner.unescaped(token).withUnsafeBytes { RFC3339.parse($0) }
            } else {
                parsed = RFC3339.parse(UnsafeRawBufferPointer(rebasing: scanner.bytes[token.start..<token.end]))
            }
            guard let parsed else {
                setTimestampError(
                    "ts '\(scanner.string(token).prefix(80))' is not an RFC 3339 date-time such as 2025-11-29T07:06:40.123Z"
                )
                return
            }
            acceptTimestamp(parsed)
        default:
            try scanner.skipValue(depth: 1)
            setTimestampError("ts must be epoch milliseconds (integer) or an RFC 3339 string")
        }
    }

    private mutating func acceptTimestamp(_ value: Int64) {
        guard value >= limits.minTimestamp, value <= limits.maxTimestamp else {
            setTimestampError("ts \(value) is outside \(limits.minTimestamp)...\(limits.maxTimestamp) (epoch ms)")
            return
        }
        if tsError == nil, ts == nil { ts = value }
    }

    private mutating func setTimestampError(_ message: String) {
        if tsError == nil, ts == nil { tsError = ReadingRejection(.badTimestamp, message) }
    }

    private mutating func sequence() throws(ReadingRejection) {
        let first = seq == nil && seqError == nil
        if recordMode, scanner.peekNull() {
            try scanner.skipValue(depth: 1)
            return
        }
        if scanner.peekKind() == .number {
            let token = try scanner.scanNumber()
            if token.isInteger, let magnitude = scanner.integerMagnitude(token), !token.isNegative || magnitude == 0 {
                if first { seq = magnitude }
                return
            }
        } else {
            try scanner.skipValue(depth: 1)
        }
        if first { seqError = ReadingRejection(.badSequence, "seq must be an integer in 0...18446744073709551615") }
    }

    private mutating func metricsObject() throws(ReadingRejection) {
        guard scanner.peek() == UInt8(ascii: "{") else {
            try scanner.skipValue(depth: 1)
            metricsNotObject = true
            return
        }
        guard 2 <= limits.maxDepth else { throw scanner.tooDeep() }
        scanner.index += 1
        if scanner.peek() == UInt8(ascii: "}") {
            scanner.index += 1
            return
        }
        metrics.reserveCapacity(8)
        while true {
            let key = try scanner.scanString()
            try scanner.expect(UInt8(ascii: ":"), "':'")
            try metric(key)
            guard let byte = scanner.peek() else { throw scanner.syntax("unterminated metrics object") }
            scanner.index += 1
            if byte == UInt8(ascii: "}") { return }
            guard byte == UInt8(ascii: ",") else { throw scanner.syntax("expected ',' or '}' in metrics") }
        }
    }

    private mutating func metric(_ key: JSONScanner.StringToken) throws(ReadingRejection) {
        metricCount += 1
        var name: String?
        if key.hasEscapes {
            let decoded = scanner.unescaped(key)
            if Metric.isValidName(bytes: decoded) { name = String(decoding: decoded, as: UTF8.self) }
        } else {
            let raw = UnsafeRawBufferPointer(rebasing: scanner.bytes[key.start..<key.end])
            if Metric.isValidName(bytes: raw) { name = String(decoding: raw, as: UTF8.self) }
        }
        var value: Double?
        if scanner.peekKind() == .number {
            let token = try scanner.scanNumber()
            let parsed = scanner.double(token)
            if parsed.isFinite { value = parsed }
        } else {
            try scanner.skipValue(depth: 2)
        }
        guard let name else {
            if metricError == nil {
                metricError = ReadingRejection(
                    .badMetric,
                    "metric name '\(scanner.string(key).prefix(80))' must be 1 to 64 characters from A-Z a-z 0-9 _ . -"
                )
            }
            return
        }
        if metricCount <= limits.maxMetrics,
            metrics.contains(where: { $0.name == name }) || namesWithBadValues.contains(name)
        {
            duplicate("metrics." + name)
            return
        }
        guard let value else {
            namesWithBadValues.append(name)
            if metricError == nil {
                metricError = ReadingRejection(.badMetric, "metric '\(name)' must be a finite number")
            }
            return
        }
        if metrics.count < limits.maxMetrics { metrics.append(Metric(name, value)) }
    }

    /// The reading, or the highest-precedence semantic problem.
    func reading(device: DeviceID) throws(ReadingRejection) -> Reading {
        if let duplicateError { throw duplicateError }
        if let deviceError { throw deviceError }
        if let tsError { throw tsError }
        guard sawTimestamp, let ts else { throw ReadingRejection(.missingTimestamp, "the payload has no ts field") }
        if let seqError { throw seqError }
        if metricsNotObject { throw ReadingRejection(.badMetric, "metrics must be an object of name: number") }
        if metricCount > limits.maxMetrics {
            throw ReadingRejection(.tooManyMetrics, "\(metricCount) metrics; the limit is \(limits.maxMetrics)")
        }
        guard sawMetrics, metricCount > 0 else {
            throw ReadingRejection(.missingMetrics, "the payload needs a non-empty metrics object")
        }
        if let metricError { throw metricError }
        return Reading(device: device, ts: ts, seq: seq, metrics: metrics)
    }
}
