import Foundation
import Testing

@testable import Telemetry

/// Property tests: the purpose-built decoder agrees with the Foundation reference on seeded random
/// valid and invalid payloads, and its doubles agree with Swift's correctly rounded parser.
@Suite struct DecoderAgreementTests {
    let device = DeviceID("prop")!

    /// A random valid payload plus the reading it must decode to (metrics sorted by name).
    static func validPayload(_ rng: inout SeededGenerator) -> (String, Reading) {
        let device = DeviceID("prop")!
        var fields: [String] = []
        let ts: Int64
        if Bool.random(using: &rng) {
            ts = Int64.random(in: 0...4_102_444_800_000, using: &rng)
            fields.append("\"ts\": \(ts)")
        } else {
            // RFC 3339 with 0...3 fraction digits and a random offset.
            let base = Int64.random(in: 86_400_000...4_102_444_800_000, using: &rng) / 1000 * 1000
            let digits = Int.random(in: 0...3, using: &rng)
            let fraction = digits == 0 ? 0 : Int64.random(in: 0..<Int64([1, 10, 100, 1000][digits]), using: &rng)
            let millis = fraction * Int64([1000, 100, 10, 1][digits])
            let offset = Int.random(in: -12...14, using: &rng) * 60 + [0, 30, 45].randomElement(using: &rng)!
            let local = base + Int64(offset) * 60_000
            var text = String(RFC3339.format(local).prefix(19))
            if digits > 0 {
                let f = String(fraction)
                text += "." + String(repeating: "0", count: digits - f.count) + f
            }
            if offset == 0 && Bool.random(using: &rng) {
                text += "Z"
            } else {
                let a = abs(offset)
                text += (offset < 0 ? "-" : "+") + String(format: "%02d:%02d", a / 60, a % 60)
            }
            ts = base + millis
            fields.append("\"ts\": \"\(text)\"")
        }
        var seq: UInt64?
        if Bool.random(using: &rng) {
            seq = UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            fields.append("\"seq\": \(seq!)")
        }
        var metrics: [Metric] = []
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        for _ in 0..<Int.random(in: 1...12, using: &rng) {
            var name = ""
            repeat {
                name = String(
                    (0..<Int.random(in: 1...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            } while metrics.contains { $0.name == name }
            var (text, value) = randomNumber(&rng)
            while !value.isFinite { (text, value) = randomNumber(&rng) }
            metrics.append(Metric(name, value))
            let key =
                Bool.random(using: &rng) ? name : "\\u00" + String(format: "%02x", name.utf8.first!) + name.dropFirst()
            fields.append("\"metrics\": {}")
            fields.removeLast()
            fields.append("M\"\(key)\": \(text)")
        }
        let metricFields = fields.filter { $0.hasPrefix("M") }.map { String($0.dropFirst()) }
        fields.removeAll { $0.hasPrefix("M") }
        fields.append("\"metrics\": {\(metricFields.joined(separator: ", "))}")
        for k in 0..<Int.random(in: 0...3, using: &rng) {
            fields.append("\"x\(k)\": \(randomJSON(&rng, depth: 0))")
        }
        fields.shuffle(using: &rng)
        let ws = [" ", "", "\n", "\t", "  "]
        let payload =
            ws.randomElement(using: &rng)! + "{" + fields.joined(separator: "," + ws.randomElement(using: &rng)!)
            + ws.randomElement(using: &rng)! + "}" + ws.randomElement(using: &rng)!
        return (payload, Reading(device: device, ts: ts, seq: seq, metrics: metrics.sorted { $0.name < $1.name }))
    }

    /// A random JSON number literal and its correctly rounded value.
    static func randomNumber(_ rng: inout SeededGenerator) -> (String, Double) {
        let text: String
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: text = String(Int.random(in: -1_000_000...1_000_000, using: &rng))
        case 1:
            text = String(
                format: "%.\(Int.random(in: 1...6, using: &rng))f", Double.random(in: -500...500, using: &rng))
        case 2: text = Double.random(in: -1e6...1e6, using: &rng).description
        case 3:
            text =
                Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng) & 0x7FEF_FFFF_FFFF_FFFF).description
        case 4:
            let digits = (0..<Int.random(in: 1...25, using: &rng)).map { _ in String(Int.random(in: 0...9, using: &rng))
            }.joined()
            let mantissa = digits.drop { $0 == "0" }
            text =
                (mantissa.isEmpty ? "0" : String(mantissa)) + "." + digits + "e"
                + String(Int.random(in: -330...300, using: &rng))
        default: text = "\(Int.random(in: 1...9, using: &rng))e\(Int.random(in: -30...30, using: &rng))"
        }
        let json = text.replacingOccurrences(of: "e+", with: "e")
        return (json, Double(json)!)
    }

    static func randomJSON(_ rng: inout SeededGenerator, depth: Int) -> String {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 7), using: &rng) {
        case 0: return "null"
        case 1: return Bool.random(using: &rng) ? "true" : "false"
        case 2:
            var (text, value) = randomNumber(&rng)
            while !value.isFinite { (text, value) = randomNumber(&rng) }
            return text
        case 3:
            return ["\"\"", "\"a\\\"b\\\\c\\n\"", "\"Grüße 温度 😀\"", "\"\\ud83d\\ude00 \\u00e9\""].randomElement(
                using: &rng)!
        case 4, 5:
            return "["
                + (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomJSON(&rng, depth: depth + 1) }.joined(
                    separator: ",") + "]"
        default:
            return "{"
                + (0..<Int.random(in: 0...3, using: &rng)).map { "\"k\($0)\": " + randomJSON(&rng, depth: depth + 1) }
                .joined(separator: ",") + "}"
        }
    }

    static func ulps(_ a: Double, _ b: Double) -> UInt64 {
        if a == b { return 0 }
        guard a.isFinite, b.isFinite, a.sign == b.sign else { return .max }
        let x = a.bitPattern
        let y = b.bitPattern
        return x > y ? x - y : y - x
    }

    /// Foundation's JSONSerialization on Linux is not correctly rounded (seen: up to ~10 ulps off
    /// on long mantissas), so it is compared within a relative 1e-13.
    static func close(_ a: Double, _ b: Double) -> Bool {
        a == b || (a.isFinite && b.isFinite && abs(a - b) <= 1e-13 * max(abs(a), abs(b)))
    }

    /// Equal, except that Foundation's doubles may be a few ulps off.
    static func nearlyEqual(_ a: Reading, _ b: Reading) -> Bool {
        a.device == b.device && a.ts == b.ts && a.seq == b.seq && a.metrics.count == b.metrics.count
            && zip(a.metrics, b.metrics).allSatisfy { $0.name == $1.name && Self.close($0.value, $1.value) }
    }

    @Test func bothDecodersAcceptRandomValidPayloads() throws {
        var rng = SeededGenerator(seed: 0xF1A7_6A7E)
        let fast = ReadingDecoder()
        let reference = FoundationReadingDecoder()
        for _ in 0..<3000 {
            let (payload, expected) = Self.validPayload(&rng)
            guard var got = try? fast.decode(Array(payload.utf8), device: device) else {
                Issue.record("rejected \(payload)")
                continue
            }
            got.metrics.sort { $0.name < $1.name }
            #expect(got == expected, "\(payload)")
            let oracle = try reference.decode(Array(payload.utf8), device: device)
            #expect(Self.nearlyEqual(oracle, expected), "\(payload)")
        }
    }

    @Test func bothDecodersAgreeOnRandomMutations() {
        var rng = SeededGenerator(seed: 0xBAD_DA7A)
        let fast = ReadingDecoder()
        let reference = FoundationReadingDecoder()
        let junk: [UInt8] = Array("{}[],:\"\\ 0123456789.eE+-tfnxuZT".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF, 0xED]
        var rejected = 0
        var compared = 0
        for _ in 0..<6000 {
            var bytes = Array(Self.validPayload(&rng).0.utf8)
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[at] = junk.randomElement(using: &rng)!
                case 1: bytes.insert(junk.randomElement(using: &rng)!, at: at)
                case 2: bytes.remove(at: at)
                default: bytes = Array(bytes.prefix(at))
                }
                if bytes.isEmpty { bytes = [UInt8(ascii: "{")] }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let a = Result { () throws(ReadingRejection) in try fast.decode(bytes, device: device) }
            let b = Result { () throws(ReadingRejection) in try reference.decode(bytes, device: device) }
            // Documented Foundation leniencies: trailing commas, duplicate keys, huge numbers.
            if case .failure(let e) = a, e.reason == .duplicateKey { continue }
            if text.contains(",]") || text.contains(", ]") || text.contains(",\n]") || text.contains(",}")
                || text.contains(", }")
                || text.contains(",\n}") || text.contains(",\t}") || text.contains(",  }") || text.contains(",\t]")
                || text.contains(",  ]")
            {
                continue
            }
            if text.contains(where: { $0 == "e" || $0 == "E" }), case .failure(let e) = b, e.reason == .invalidJSON,
                case .success = a
            {
                continue
            }
            compared += 1
            switch (a, b) {
            case (.success(var x), .success(let y)):
                x.metrics.sort { $0.name < $1.name }
                #expect(Self.nearlyEqual(x, y), "\(text)")
            case (.failure(let x), .failure(let y)):
                rejected += 1
                // Where Foundation can tell the reasons apart, they must match.
                if [.invalidUTF8, .missingTimestamp, .missingMetrics, .tooManyMetrics].contains(y.reason) {
                    #expect(x.reason == y.reason, "\(text)")
                }
            default:
                Issue.record("disagreement on \(text.debugDescription): fast \(a), Foundation \(b)")
            }
        }
        #expect(compared > 5000)
        #expect(rejected > 1000)
    }

    static let structuredInvalid: [String] = [
        #"{"metrics": {"a": 1}}"#, #"{"ts": "x", "metrics": {"a": 1}}"#, #"{"ts": true, "metrics": {"a": 1}}"#,
        #"{"ts": 1.5, "metrics": {"a": 1}}"#, #"{"ts": -5, "metrics": {"a": 1}}"#,
        #"{"ts": 1, "seq": -1, "metrics": {"a": 1}}"#,
        #"{"ts": 1, "seq": 2.5, "metrics": {"a": 1}}"#, #"{"ts": 1, "seq": "x", "metrics": {"a": 1}}"#, #"{"ts": 1}"#,
        #"{"ts": 1, "metrics": {}}"#, #"{"ts": 1, "metrics": 5}"#, #"{"ts": 1, "metrics": {"a b": 1}}"#,
        #"{"ts": 1, "metrics": {"a": true}}"#, #"{"ts": 1, "metrics": {"a": "1"}}"#, "[]", "1", "{",
        "{\"ts\":1,\"metrics\":{\"a\":1},\"x\":" + String(repeating: "[", count: 600)
            + String(repeating: "]", count: 600) + "}",
        "{\"ts\": 1, \"metrics\": {\((0..<65).map { "\"m\($0)\": 1" }.joined(separator: ","))}}",
    ]

    @Test(arguments: structuredInvalid)
    func bothDecodersGiveTheSameReason(payload: String) {
        let a = Result { () throws(ReadingRejection) in try ReadingDecoder().decode(Array(payload.utf8), device: device)
        }
        let b = Result { () throws(ReadingRejection) in
            try FoundationReadingDecoder().decode(Array(payload.utf8), device: device)
        }
        guard case .failure(let x) = a, case .failure(let y) = b else {
            Issue.record("accepted: \(a) \(b)")
            return
        }
        #expect(x.reason == y.reason)
    }

    @Test func doublesAreCorrectlyRounded() {
        var rng = SeededGenerator(seed: 754)
        for _ in 0..<20000 {
            let (text, expected) = Self.randomNumber(&rng)
            let bytes = Array(text.utf8)
            let value = bytes.withUnsafeBytes { raw -> Double in
                var scanner = JSONScanner(raw, maxDepth: 8)
                guard let token = try? scanner.scanNumber() else { return .nan }
                return scanner.double(token)
            }
            #expect(value.bitPattern == expected.bitPattern || (value.isInfinite && expected.isInfinite), "\(text)")
            // And Foundation's JSON parser agrees.
            if expected.isFinite,
                let parsed = try? JSONSerialization.jsonObject(with: Data("[\(text)]".utf8)) as? [NSNumber]
            {
                #expect(Self.close(parsed[0].doubleValue, value), "\(text)")
            }
        }
    }

    @Test func recordsRoundTrip() throws {
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<2000 {
            var (_, reading) = Self.validPayload(&rng)
            reading.device = DeviceID("dev-\(Int.random(in: 0...99, using: &rng))")!
            let bytes = ReadingRecord.encode(reading)
            let back = try? ReadingRecord.decode(bytes)
            #expect(back == reading, "\(String(decoding: bytes, as: UTF8.self))")
            // The record is valid JSON for Foundation too, with the same numbers.
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            let metrics = object?["metrics"] as? [String: NSNumber]
            for metric in reading.metrics {
                #expect(Self.close(metrics?[metric.name]?.doubleValue ?? .nan, metric.value))
            }
        }
        let example = Reading(
            device: DeviceID("d1")!, ts: 1_764_400_000_000, seq: 17,
            metrics: [Metric("temperature", 21.4), Metric("n", -3)])
        #expect(
            String(decoding: ReadingRecord.encode(example), as: UTF8.self)
                == #"{"device":"d1","ts":1764400000000,"seq":17,"metrics":{"temperature":21.4,"n":-3.0}}"#)
        let noSeq = Reading(device: DeviceID("d1")!, ts: 5, metrics: [Metric("a", 1e300)])
        #expect(
            String(decoding: ReadingRecord.encode(noSeq), as: UTF8.self)
                == #"{"device":"d1","ts":5,"seq":null,"metrics":{"a":1e+300}}"#)
        #expect(try ReadingRecord.decode(ReadingRecord.encode(noSeq)) == noSeq)
    }

    @Test(arguments: [
        (#"{"ts":5,"seq":null,"metrics":{"a":1}}"#, RejectionReason.badRecord),
        (#"{"device":"a b","ts":5,"metrics":{"a":1}}"#, .badDeviceID),
        (#"{"device":5,"ts":5,"metrics":{"a":1}}"#, .badDeviceID),
        (#"{"device":"d","device":"d","ts":5,"metrics":{"a":1}}"#, .duplicateKey),
        (#"{"device":"d","metrics":{"a":1}}"#, .missingTimestamp),
    ])
    func rejectsBadRecords(record: String, reason: RejectionReason) {
        do {
            _ = try ReadingRecord.decode(Array(record.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func writerMatchesSwiftDescriptionForDoubles() {
        var rng = SeededGenerator(seed: 99)
        for _ in 0..<20000 {
            let value: Double =
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: Double(Int.random(in: -2_000_000_000_000_000...2_000_000_000_000_000, using: &rng))
                case 1: Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng) & 0x7FEF_FFFF_FFFF_FFFF)
                default: Double(Int.random(in: -100_000...100_000, using: &rng)) / 10
                }
            var writer = JSONWriter()
            writer.double(value)
            #expect(String(decoding: writer.bytes, as: UTF8.self) == value.description)
        }
    }

    @Test func writerEscapesEveryStringSoItParsesBack() throws {
        var rng = SeededGenerator(seed: 2024)
        let pool: [Character] = ["a", "Z", "0", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "温", "😀"]
        for _ in 0..<2000 {
            let text = String((0..<Int.random(in: 0...20, using: &rng)).map { _ in pool.randomElement(using: &rng)! })
            var writer = JSONWriter()
            writer.beginObject()
            writer.field("k", text)
            writer.endObject()
            let fields = try writer.bytes.withUnsafeBytes { raw in
                Result { () throws(ReadingRejection) in try FlatJSONObject.parse(raw) }
            }.get()
            #expect(fields["k"] == .string(text))
            let foundation = try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: String]
            #expect(foundation?["k"] == text)
        }
    }
}
