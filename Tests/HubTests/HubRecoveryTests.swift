import FluxgateTesting
import Foundation
import Kafka
import Telemetry
import Testing

@testable import Hub

/// Connection state recovery backed by Kafka offsets (docs/hub.md "Recovery"), with a real
/// python-socketio client that keeps `pid` and the last offset as the JavaScript client does
/// (Clients/hub_client.py --recover).
@Suite("Hub connection state recovery")
struct HubRecoveryTests {
    static let devices = ["rec-1", "rec-2"]
    static let subscribe = #"{"devices": ["rec-1", "rec-2"]}"#

    /// `seq` of the `reading` events for `device`, in the order received (not `history`).
    static func sequence(_ client: PythonClient, _ device: String) -> [Int] {
        client.events.compactMap { event in
            guard event.name == "reading", event.payload["device"] as? String == device else { return nil }
            return (event.payload["seq"] as? NSNumber)?.intValue
        }
    }

    static func sessionLines(_ client: PythonClient) -> [String] {
        client.lines.filter { $0.hasPrefix("SESSION ") }
    }

    static func send(_ kafka: KafkaFixture, _ range: ClosedRange<Int>) async throws {
        for seq in range {
            for device in devices {
                try await kafka.send(kafka.topics.readings, key: device, kafka.reading(device, seq: UInt64(seq)))
            }
        }
    }

    static func waitForAll(_ client: PythonClient, through last: Int, historyLostExpected: Bool = false) async throws {
        try await waitWatching(client, through: last, timeout: .seconds(60), "readings 1...\(last) of both devices received") {
            // A failed recovery never completes the sequence: say so at once.
            if !historyLostExpected, let lost = client.events.first(where: { $0.name == "history-lost" }) {
                throw FixtureError(
                    code: "history-lost", message: "history-lost while waiting for 1...\(last): \(lost.payload)")
            }
            return devices.allSatisfy { sequence(client, $0).contains(last) }
        }
    }

    /// ``waitUntil(timeout:_:_:)`` that, on failure, records what the client got (``describe``).
    static func waitWatching(
        _ client: PythonClient, through last: Int, timeout: Duration, _ what: String, _ condition: () async throws -> Bool
    ) async throws {
        do {
            try await waitUntil(timeout: timeout, what, condition)
        } catch {
            Issue.record("\(describe(client, through: last))")
            throw error
        }
    }

    /// What the client got, for a failure message: per device the readings missing from
    /// 1...last (and duplicates), and the client's connection history (every line but readings).
    static func describe(_ client: PythonClient, through last: Int) -> String {
        var text = ""
        for device in devices {
            let received = sequence(client, device)
            let missing = Set(1...last).subtracting(received).sorted()
            let duplicates = Dictionary(grouping: received, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            text += "\(device): \(received.count) readings, missing \(missing), twice \(duplicates); "
        }
        var connection: [String] = []
        var readings = 0
        for line in client.lines {
            if line.hasPrefix("EVENT reading ") {
                readings += 1
                continue
            }
            connection.append("[after \(readings) readings] " + String(line.prefix(160)))
        }
        // aiohttp's "Unclosed client session" warnings (one per failed connect attempt) say nothing.
        let errors = client.process.errorLines.filter { !$0.contains("nclosed client session") && !$0.hasPrefix("client_session:") }
            .suffix(20).joined(separator: " | ")
        return text + "client: " + connection.joined(separator: " | ") + (errors.isEmpty ? "" : "; client stderr: " + errors)
    }

    /// Every reading 1...last exactly once and in order, no `history-lost`.
    static func expectComplete(_ client: PythonClient, through last: Int) {
        for device in devices {
            let received = sequence(client, device)
            #expect(
                received == Array(1...last),
                "\(device): \(received.count) readings, first gap or duplicate shown in the list")
        }
        let lost = client.events.filter { $0.name == "history-lost" }.map(\.payload)
        #expect(lost.isEmpty, "no history-lost after a recovery: \(lost)")
    }

    @Test("hub restarted mid-stream, twice: the client gets every missed event once, in order, then live ones")
    func restartedHub() async throws {
        try await withKafka { kafka in
            let configuration = try testHubConfiguration(kafka, instanceID: "recovery-a")
            var started: PythonClient?
            defer { if let started { started.process.kill() } }
            try await withHub(kafka, configuration) { hub in
                let client = try PythonClient.start(
                    hub.url,
                    ["--recover", "--transport", "websocket", "--subscribe", Self.subscribe, "--duration", "150"])
                started = client
                try await client.waitForLine { $0.hasPrefix("ACK subscribe") }
                try await Self.send(kafka, 1...20)
                try await Self.waitForAll(client, through: 20)
            }
            let client = try #require(started)
            try await client.waitForLine { $0 == "DISCONNECTED" }
            // No hub runs: these reach Kafka only.
            try await Self.send(kafka, 21...60)
            // The same hub again: a new instance, same settings and port. It is stopped again
            // right after the replay, so the client's last offset is one a replay gave it.
            try await withHub(kafka, configuration) { _ in
                try await Self.waitWatching(client, through: 20, timeout: .seconds(60), "the client reconnected") {
                    Self.sessionLines(client).count >= 2
                }
                #expect(Self.sessionLines(client)[1].contains("recovered=true"), "\(Self.sessionLines(client))")
                try await Self.waitForAll(client, through: 60)
            }
            try await Self.waitWatching(client, through: 60, timeout: .seconds(20), "the client saw the hub go") {
                client.lines.filter { $0 == "DISCONNECTED" }.count >= 2
            }
            try await Self.send(kafka, 61...80)
            try await withHub(kafka, configuration) { _ in
                try await Self.waitWatching(client, through: 60, timeout: .seconds(60), "the client reconnected again") {
                    Self.sessionLines(client).count >= 3
                }
                #expect(Self.sessionLines(client)[2].contains("recovered=true"), "\(Self.sessionLines(client))")
                try await Self.waitForAll(client, through: 80)
                try await Self.send(kafka, 81...100)
                try await Self.waitForAll(client, through: 100)
            }
            await client.stop()
            Self.expectComplete(client, through: 100)
        }
    }

    @Test(
        "connection dropped, reconnect to another hub instance (1) or the same hub (0): every missed event once, in order, then live ones",
        arguments: [1, 0])
    func anotherHub(target: Int) async throws {
        let folder = NSTemporaryDirectory() + "hub-recovery-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let drop = folder + "/drop"
        let resume = folder + "/resume"
        try await withHubs(2) { kafka, hubs in
            let client = try PythonClient.start(
                hubs[0].url,
                [
                    "--recover", "--transport", "websocket", "--subscribe", Self.subscribe, "--drop-file", drop,
                    "--resume-file", resume, "--reconnect-url", hubs[target].url, "--duration", "150",
                ])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("ACK subscribe") }
            try await Self.send(kafka, 1...20)
            try await Self.waitForAll(client, through: 20)
            _ = FileManager.default.createFile(atPath: drop, contents: nil)
            try await client.waitForLine { $0 == "DISCONNECTED" }
            try await Self.send(kafka, 21...60)
            // The target hub has them all before the client comes: they must come from the replay.
            try await waitUntil(timeout: .seconds(30), "the target hub read readings 21...60") {
                hubs[target].hub.service.store.withState { state in
                    Self.devices.allSatisfy { state.devices[DeviceID($0)!]?.readings.last?.seq == 60 }
                }
            }
            _ = FileManager.default.createFile(atPath: resume, contents: nil)
            // Keep writing while the client reconnects and its replay is read, so that live
            // events meet the replay at the splice point.
            var next = 61
            while Self.sessionLines(client).count < 2 || next <= 120 {
                try await Self.send(kafka, next...next)
                next += 1
                if next > 2000 { break }
            }
            let second = try #require(Self.sessionLines(client).dropFirst().first)
            #expect(second.contains("recovered=true") && second.hasSuffix(hubs[target].url), "\(second)")
            let last = next + 19
            try await Self.send(kafka, next...last)
            try await Self.waitForAll(client, through: last)
            await client.stop()
            Self.expectComplete(client, through: last)
        }
    }

    @Test("a client whose device stayed quiet still recovers: subscribed carries an offset")
    func quietDevice() async throws {
        let folder = NSTemporaryDirectory() + "hub-recovery-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let drop = folder + "/drop"
        let resume = folder + "/resume"
        try await withHubs(2) { kafka, hubs in
            // Traffic of another device, so that the hub's frontier is not at zero.
            for seq in 1...5 {
                try await kafka.send(
                    kafka.topics.readings, key: "rec-noise", kafka.reading("rec-noise", seq: UInt64(seq)))
            }
            let device = "rec-quiet"
            let client = try PythonClient.start(
                hubs[0].url,
                [
                    "--recover", "--transport", "websocket", "--subscribe", #"{"devices": ["rec-quiet"]}"#,
                    "--drop-file", drop, "--resume-file", resume, "--reconnect-url", hubs[1].url, "--duration", "150",
                ])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("EVENT subscribed") }
            _ = FileManager.default.createFile(atPath: drop, contents: nil)
            try await client.waitForLine { $0 == "DISCONNECTED" }
            for seq in 1...10 {
                try await kafka.send(kafka.topics.readings, key: device, kafka.reading(device, seq: UInt64(seq)))
            }
            _ = FileManager.default.createFile(atPath: resume, contents: nil)
            try await waitUntil(timeout: .seconds(30), "the client reconnected") {
                Self.sessionLines(client).count >= 2
            }
            #expect(Self.sessionLines(client)[1].contains("recovered=true"), "\(Self.sessionLines(client))")
            try await waitUntil(timeout: .seconds(30), "readings 1...10 received") {
                Self.sequence(client, device).contains(10)
            }
            await client.stop()
            #expect(Self.sequence(client, device) == Array(1...10))
            #expect(!client.events.contains { $0.name == "history-lost" })
        }
    }

    @Test("unknown session: recovered=false and history-lost, then the client subscribes again")
    func unknownSession() async throws {
        try await withHubs(1) { kafka, hubs in
            // A well-formed offset, but a session no hub wrote.
            let offset = RecoveryOffset(source: nil, frontier: Array(repeating: [0, 0], count: 5)).encoded
            let client = try PythonClient.start(
                hubs[0].url,
                [
                    "--recover", "--transport", "websocket", "--pid", "no-such-session", "--offset", offset,
                    "--subscribe",
                    Self.subscribe, "--duration", "60",
                ])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("ACK subscribe") }
            try await waitUntil(timeout: .seconds(20), "history-lost received") {
                client.events.contains { $0.name == "history-lost" }
            }
            #expect(
                Self.sessionLines(client).first?.contains("recovered=false") == true, "\(Self.sessionLines(client))")
            let lost = try #require(client.events.first { $0.name == "history-lost" }?.payload)
            #expect(lost["reason"] as? String == "other")
            #expect(lost["devices"] as? [String] == ["*"])
            #expect((lost["message"] as? String)?.contains("session") == true)
            // The fresh session works: live events arrive after subscribing again.
            try await Self.send(kafka, 1...3)
            try await Self.waitForAll(client, through: 3, historyLostExpected: true)
            await client.stop()
        }
    }

    @Test("history lost: Kafka no longer holds the client's position -> recovered=false, history-lost retention")
    func retentionPassed() async throws {
        let folder = NSTemporaryDirectory() + "hub-recovery-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let drop = folder + "/drop"
        let resume = folder + "/resume"
        try await withHubs(1) { kafka, hubs in
            let device = "rec-big"
            let client = try PythonClient.start(
                hubs[0].url,
                [
                    "--recover", "--transport", "websocket", "--subscribe", #"{"devices": ["rec-big"]}"#, "--drop-file",
                    drop,
                    "--resume-file", resume, "--duration", "150",
                ])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("ACK subscribe") }
            var last: KafkaDeliveryReport?
            for seq in 1...10 {
                last = try await kafka.producer.send(
                    KafkaProducerRecord(
                        topic: kafka.topics.readings, key: device, value: kafka.reading(device, seq: UInt64(seq))))
            }
            let report = try #require(last)
            try await waitUntil(timeout: .seconds(30), "10 readings received") {
                Self.sequence(client, device).count == 10
            }
            _ = FileManager.default.createFile(atPath: drop, contents: nil)
            try await client.waitForLine { $0 == "DISCONNECTED" }
            // The dev cluster keeps at most 5 MiB per partition: 7 MB more in the same partition
            // (same key) push the client's position out of Kafka.
            let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
            for _ in 0..<70 {
                _ = try await kafka.producer.send(
                    KafkaProducerRecord(topic: kafka.topics.readings, key: device, value: filler))
            }
            let admin = try KafkaAdmin(bootstrapServers: kafka.cluster.bootstrapServerList, logger: testLogger)
            try await waitUntil(timeout: .seconds(30), "the client's position left Kafka") {
                let marks = try await admin.watermarks(topic: report.topic, partition: report.partition)
                return marks.low > report.offset
            }
            _ = FileManager.default.createFile(atPath: resume, contents: nil)
            do {
                try await waitUntil(timeout: .seconds(30), "history-lost received") {
                    client.events.contains { $0.name == "history-lost" }
                }
            } catch {
                Issue.record("client output: \(client.lines.filter { !$0.hasPrefix("EVENT reading") }.suffix(20))")
                throw error
            }
            #expect(
                Self.sessionLines(client).count == 2 && Self.sessionLines(client)[1].contains("recovered=false"),
                "\(Self.sessionLines(client))")
            let lost = try #require(client.events.first { $0.name == "history-lost" }?.payload)
            #expect(lost["reason"] as? String == "retention", "\(lost)")
            #expect(lost["devices"] as? [String] == [device])
            await client.stop()
        }
    }
}
