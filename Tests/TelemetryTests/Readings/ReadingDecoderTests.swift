import Testing

@testable import Telemetry

@Suite struct ReadingDecoderTests {
    let device = DeviceID("sensor-1")!
    let decoder = ReadingDecoder()

    @Test func decodesTheContractExample() throws {
        let reading = try decoder.decode(
            Array(#"{"ts": 1764400000000, "seq": 17, "metrics": {"temperature": 21.4}}"#.utf8), device: device)
        #expect(
            reading == Reading(device: device, ts: 1_764_400_000_000, seq: 17, metrics: [Metric("temperature", 21.4)]))
    }

    @Test func keepsMetricOrderAndIgnoresUnknownKeys() throws {
        let payload =
            #"{"fw": {"v": [1, 2, {"x": null}]}, "metrics": {"z": 1, "a": -2.5e3, "m.x_y-z": 0}, "ts": "2025-11-29T07:06:40.123Z"}"#
        let reading = try decoder.decode(Array(payload.utf8), device: device)
        #expect(reading.metrics == [Metric("z", 1), Metric("a", -2500), Metric("m.x_y-z", 0)])
        #expect(reading.ts == 1_764_400_000_123)
        #expect(reading.seq == nil)
    }

    @Test func acceptsEscapedKeysAndNames() throws {
        let payload = #"{"\u0074s": 5, "metrics": {"\u0074emp": 1}}"#
        let reading = try decoder.decode(Array(payload.utf8), device: device)
        #expect(reading.ts == 5)
        #expect(reading.metrics == [Metric("temp", 1)])
    }

    @Test func acceptsExactlyTheLimits() throws {
        let metrics = (0..<64).map { "\"m\($0)\": \($0)" }.joined(separator: ",")
        let name = String(repeating: "n", count: 64)
        let payload = "{\"ts\": 0, \"seq\": 18446744073709551615, \"metrics\": {\(metrics), \"\(name)\": 1}}"
        #expect(throws: ReadingRejection.self) { try decoder.decode(Array(payload.utf8), device: device) }
        let ok = "{\"ts\": 253402300799999, \"seq\": 18446744073709551615, \"metrics\": {\(metrics)}}"
        let reading = try decoder.decode(Array(ok.utf8), device: device)
        #expect(reading.metrics.count == 64)
        #expect(reading.seq == UInt64.max)
        let nested =
            "{\"ts\":1,\"metrics\":{\"a\":1},\"x\":" + String(repeating: "[", count: 511)
            + String(repeating: "]", count: 511) + "}"
        #expect(try decoder.decode(Array(nested.utf8), device: device).ts == 1)
        var padded = Array("{\"ts\":1,\"metrics\":{\"a\":1}}".utf8)
        padded += Array(repeating: UInt8(ascii: " "), count: 65_536 - padded.count)
        #expect(try decoder.decode(padded, device: device).ts == 1)
    }

    static let rejections: [(String, RejectionReason)] = [
        ("", .invalidJSON),
        ("   ", .invalidJSON),
        ("[1]", .invalidJSON),
        ("42", .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}} x"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1},}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 01}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1.}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": .5}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": +1}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": NaN}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": Infinity}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": -Infinity}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": [1,]}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": "\q"}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": "\ud800"}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": "\udc00\ud800"}"#, .invalidJSON),
        ("{\"ts\": 1, \"metrics\": {\"a\": 1}, \"x\": \"tab\there\"}", .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": tru}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": [1 2]}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": {"k" 1}}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": [}"#, .invalidJSON),
        (#"{"ts": 1, "metrics": {"a": 1} // comment"#, .invalidJSON),
        ("\u{FEFF}{\"ts\": 1, \"metrics\": {\"a\": 1}}", .invalidJSON),
        (#"{'ts': 1, "metrics": {"a": 1}}"#, .invalidJSON),
        (
            "{\"ts\": 1, \"metrics\": {\"a\": 1}, \"x\": " + String(repeating: "[", count: 512)
                + String(repeating: "]", count: 512) + "}", .tooDeep
        ),
        (String(repeating: "[", count: 60_000), .invalidJSON),
        ("{\"x\":" + String(repeating: "[", count: 60_000), .tooDeep),
        (#"{"ts": 1, "ts": 2, "metrics": {"a": 1}}"#, .duplicateKey),
        (#"{"ts": 1, "metrics": {"a": 1, "a": 2}}"#, .duplicateKey),
        (#"{"ts": 1, "metrics": {"a": "x", "a": 2}}"#, .duplicateKey),
        (#"{"ts": 1, "metrics": {"a": 1, "b": 2, "\u0061": null}}"#, .duplicateKey),
        (#"{"ts": 1, "metrics": {"a": 1}, "x": 1, "x": 2}"#, .duplicateKey),
        (#"{"ts": 1, "\u0074s": 2, "metrics": {"a": 1}}"#, .duplicateKey),
        (#"{"metrics": {"a": 1}}"#, .missingTimestamp),
        (#"{"ts": null, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": true, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 1.5, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 1.0, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 1e3, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": -1, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 253402300800000, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 99999999999999999999, "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": "yesterday", "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": "2025-02-29T00:00:00Z", "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": [1], "metrics": {"a": 1}}"#, .badTimestamp),
        (#"{"ts": 1, "seq": -1, "metrics": {"a": 1}}"#, .badSequence),
        (#"{"ts": 1, "seq": 1.5, "metrics": {"a": 1}}"#, .badSequence),
        (#"{"ts": 1, "seq": "1", "metrics": {"a": 1}}"#, .badSequence),
        (#"{"ts": 1, "seq": null, "metrics": {"a": 1}}"#, .badSequence),
        (#"{"ts": 1, "seq": 18446744073709551616, "metrics": {"a": 1}}"#, .badSequence),
        (#"{"ts": 1}"#, .missingMetrics),
        (#"{"ts": 1, "metrics": {}}"#, .missingMetrics),
        (#"{"ts": 1, "metrics": [1]}"#, .badMetric),
        (#"{"ts": 1, "metrics": null}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": "1"}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": true}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": null}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": 1e309}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": -1e400}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a": {"b": 1}}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"": 1}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"a b": 1}}"#, .badMetric),
        (#"{"ts": 1, "metrics": {"températur": 1}}"#, .badMetric),
        ("{\"ts\": 1, \"metrics\": {\"\(String(repeating: "n", count: 65))\": 1}}", .badMetric),
        ("{\"ts\": 1, \"metrics\": {\((0..<65).map { "\"m\($0)\": 1" }.joined(separator: ","))}}", .tooManyMetrics),
    ]

    @Test(arguments: rejections)
    func rejectsWithAStableReason(payload: String, reason: RejectionReason) {
        #expect(throws: ReadingRejection.self) { try decoder.decode(Array(payload.utf8), device: device) }
        do {
            _ = try decoder.decode(Array(payload.utf8), device: device)
        } catch {
            #expect(error.reason == reason, "\(error)")
            #expect(!error.message.isEmpty)
        }
    }

    static let invalidUTF8: [[UInt8]] = [
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": ""#.utf8) + [0xFF] + Array(#""}"#.utf8),
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": ""#.utf8) + [0xC0, 0x80] + Array(#""}"#.utf8),  // overlong
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),  // surrogate
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": ""#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(#""}"#.utf8),  // > U+10FFFF
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": ""#.utf8) + [0xE2, 0x82] + Array(#""}"#.utf8),  // truncated
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": 1"#.utf8) + [0x80] + Array("}".utf8),  // outside a string
        Array(#"{"ts": 1, "metrics": {"a": 1}, "x": 1}   "#.utf8) + [0xFE],  // after the object
        Array("{\"".utf8) + [0xC3],  // truncated and invalid at the end
    ]

    @Test(arguments: invalidUTF8)
    func rejectsInvalidUTF8(payload: [UInt8]) {
        do {
            _ = try decoder.decode(payload, device: device)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.reason == .invalidUTF8, "\(error)")
        }
    }

    @Test func acceptsValidMultibyteUTF8InIgnoredStrings() throws {
        let payload = #"{"ts": 1, "metrics": {"a": 1}, "note": "Grüße 温度 😀 \u00e9 \ud83d\ude00"}"#
        #expect(try decoder.decode(Array(payload.utf8), device: device).ts == 1)
    }

    @Test func rejectsOversizedPayloadsBeforeParsing() {
        let payload = [UInt8](repeating: UInt8(ascii: " "), count: 65_537)
        do {
            _ = try decoder.decode(payload, device: device)
            Issue.record("accepted")
        } catch {
            #expect(error.reason == .tooLarge)
        }
    }

    @Test func precedenceIsStable() {
        // Syntax beats semantics, ts beats seq beats metrics.
        let cases: [(String, RejectionReason)] = [
            (#"{"metrics": {}, "ts": "x", "seq": -1} x"#, .invalidJSON),
            (#"{"metrics": {}, "ts": "x", "seq": -1}"#, .badTimestamp),
            (#"{"metrics": {}, "seq": -1}"#, .missingTimestamp),
            (#"{"metrics": {}, "ts": 1, "seq": -1}"#, .badSequence),
            (#"{"metrics": {"a": "x"}, "ts": 1, "ts": 1}"#, .duplicateKey),
        ]
        for (payload, reason) in cases {
            do {
                _ = try decoder.decode(Array(payload.utf8), device: device)
                Issue.record("accepted \(payload)")
            } catch {
                #expect(error.reason == reason, "\(payload): \(error)")
            }
        }
    }

    @Test func decodesTopicAndPayloadTogether() throws {
        let reading = try decoder.decode(
            topic: "devices/d-1/telemetry", payload: Array(#"{"ts":1,"metrics":{"a":1}}"#.utf8))
        #expect(reading.device.rawValue == "d-1")
        #expect(throws: ReadingRejection.self) {
            try decoder.decode(topic: "devices/d-1/status", payload: Array(#"{"ts":1,"metrics":{"a":1}}"#.utf8))
        }
    }

    @Test func randomBytesNeverCrash() {
        var rng = SeededGenerator(seed: 0xF022)
        let alphabet = Array(#"{}[]",:0123456789.-eE tsqmrcn"\u"#.utf8) + [0x80, 0xC3, 0xA9, 0xFF, 0x00]
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = Array(#"{"ts":1,"metrics":{"#.utf8)
            for _ in 0..<Int.random(in: 0...40, using: &rng) { bytes.append(alphabet.randomElement(using: &rng)!) }
            if Bool.random(using: &rng) { bytes += Array(#""z":1}}"#.utf8) }
            if let reading = try? decoder.decode(bytes, device: device) {
                accepted += 1
                #expect(!reading.metrics.isEmpty && reading.metrics.allSatisfy { $0.value.isFinite })
            }
        }
        // Mixed containers nested past the limit, in every shape.
        for _ in 0..<50 {
            var bytes = Array(#"{"ts":1,"metrics":{"a":1},"x":"#.utf8)
            for _ in 0..<Int.random(in: 512...3000, using: &rng) {
                bytes += Bool.random(using: &rng) ? Array("[".utf8) : Array(#"{"k":"#.utf8)
            }
            do {
                _ = try decoder.decode(bytes, device: device)
                Issue.record("accepted")
            } catch {
                #expect(error.reason == .tooDeep)
            }
        }
        #expect(accepted > 0)
    }
}
