import Foundation
import Testing

@testable import Telemetry

@Suite struct TopicAndStatusTests {
    @Test(arguments: [
        ("devices/d1/telemetry", TelemetryTopic.telemetry(DeviceID("d1")!)),
        ("devices/Greenhouse_07-a/status", TelemetryTopic.status(DeviceID("Greenhouse_07-a")!)),
        (
            "devices/\(String(repeating: "x", count: 64))/telemetry",
            TelemetryTopic.telemetry(DeviceID(String(repeating: "x", count: 64))!)
        ),
    ])
    func parsesValidTopics(topic: String, expected: TelemetryTopic) throws {
        #expect(try TelemetryTopic(parsing: topic) == expected)
        #expect(expected.topic == topic)
    }

    @Test(arguments: [
        ("devices/d1/telemetry/x", RejectionReason.badTopic),
        ("devices/d1", .badTopic),
        ("device/d1/telemetry", .badTopic),
        ("/devices/d1/telemetry", .badTopic),
        ("devices/d1/Telemetry", .badTopic),
        ("", .badTopic),
        ("devices//telemetry", .badDeviceID),
        ("devices/d.1/telemetry", .badDeviceID),
        ("devices/d 1/telemetry", .badDeviceID),
        ("devices/+/telemetry", .badDeviceID),
        ("devices/#/status", .badDeviceID),
        ("devices/dé/status", .badDeviceID),
        ("devices/\(String(repeating: "x", count: 65))/telemetry", .badDeviceID),
    ])
    func rejectsBadTopics(topic: String, reason: RejectionReason) {
        do {
            _ = try TelemetryTopic(parsing: topic)
            Issue.record("accepted \(topic)")
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test func validatesDeviceIDs() {
        #expect(DeviceID("abc_XYZ-09") != nil)
        #expect(DeviceID("") == nil)
        #expect(DeviceID("a/b") == nil)
        #expect(throws: ReadingRejection.self) { try DeviceID(validating: "a b") }
    }

    @Test(arguments: [("online", DeviceStatus.online), ("offline", .offline), (" online\n", .online)])
    func parsesStatus(payload: String, expected: DeviceStatus) throws {
        #expect(try DeviceStatus(parsing: Array(payload.utf8)) == expected)
    }

    @Test(arguments: ["", "Online", "on line", "{\"status\":\"online\"}", "offline!"])
    func rejectsBadStatus(payload: String) {
        do {
            _ = try DeviceStatus(parsing: Array(payload.utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.reason == .badStatus)
        }
    }

    @Test func reasonCodesAreStableAndDocumented() throws {
        let codes = RejectionReason.allCases.map(\.rawValue)
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { $0.utf8.allSatisfy { $0 == UInt8(ascii: "-") || (97...122).contains($0) || (48...57).contains($0) } })
        #expect(codes == [
            "invalid-json", "invalid-utf8", "too-large", "too-deep", "duplicate-key", "missing-ts", "bad-ts", "bad-seq",
            "missing-metrics", "bad-metric", "too-many-metrics", "bad-device-id", "bad-topic", "bad-status", "bad-record",
            "late-reading",
        ])
        // Every code appears in the docs' table.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../docs/telemetry.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for code in codes { #expect(text.contains("| `\(code)` |"), "\(code) missing from docs/telemetry.md") }
    }
}
