import Foundation
import FluxgateTesting
import Kafka
import SocketIO
import Telemetry
import Testing

@testable import Hub

/// End-to-end: dev Kafka cluster over TCP, real hubs, python-socketio clients.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HubIntegrationTests {
    @Test func subscribeGetsHistoryThenLiveReadingsAndAlerts() async throws {
        try await withHubs { kafka, hubs in
            let hub = hubs[0]
            for seq in 0..<5 { try await kafka.send(kafka.topics.readings, key: "d1", kafka.reading("d1", seq: UInt64(seq))) }
            try await waitUntil(timeout: .seconds(10), "hub has the first readings") {
                hub.hub.service.store.withState { $0.devices[DeviceID("d1")!]?.readings.count } == 5
            }
            let client = try PythonClient.start(hub.url, ["--subscribe", #"{"devices":["d1"]}"#, "--name", "alice"])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("EVENT history") }
            let ackIndex = try #require(client.lines.firstIndex { $0.hasPrefix("ACK subscribe") })
            let historyIndex = try #require(client.lines.firstIndex { $0.hasPrefix("EVENT history") })
            #expect(ackIndex < historyIndex, "the ack comes before the history")
            #expect(client.lines[ackIndex].contains(#""ok": true"#))
            let history = try #require(client.events.first { $0.name == "history" }?.payload)
            #expect(history["device"] as? String == "d1")
            #expect((history["readings"] as? [Any])?.count == 5)
            for key in ["stats", "alerts", "notes"] { #expect(history[key] is [Any]) }

            for seq in 5..<8 { try await kafka.send(kafka.topics.readings, key: "d1", kafka.reading("d1", seq: UInt64(seq))) }
            try await kafka.send(kafka.topics.readings, key: "d2", kafka.reading("d2", seq: 1))  // another device
            try await client.waitForLine { $0.hasPrefix("EVENT reading") && $0.contains(#""seq": 7"#) }
            let seqs = client.events.filter { $0.name == "reading" }.compactMap { $0.payload["seq"] as? Int }
            #expect(Array(seqs.filter { $0 >= 5 }) == [5, 6, 7])
            #expect(!client.events.contains { $0.name == "reading" && $0.payload["device"] as? String == "d2" })

            try await kafka.send(kafka.topics.alerts, key: "d1", kafka.alert("d1", id: "00000000000000a1"))
            try await client.waitForLine { $0.hasPrefix("EVENT alert") && $0.contains("00000000000000a1") }

            let status = try await httpGet(hub.url + "/api/alerts?state=active")
            #expect(status.status == 200)
            let alerts = jsonObject(status.body)["alerts"] as? [[String: Any]]
            #expect(alerts?.first?["id"] as? String == "00000000000000a1")
        }
    }

    @Test func acknowledgementsAndNotesReachClientsOnAnotherHub() async throws {
        try await withHubs(2) { kafka, hubs in
            let watcher = try PythonClient.start(hubs[1].url, ["--subscribe", #"{"devices":["pump-2"]}"#])
            defer { watcher.process.kill() }
            try await watcher.waitForLine { $0.hasPrefix("EVENT history") }
            let operatorClient = try PythonClient.start(
                hubs[0].url,
                ["--subscribe", #"{"devices":["pump-2"]}"#, "--name", "alice", "--ack-on-alert", "--note", "pump-2", "  Vent 3 stuck  "])
            defer { operatorClient.process.kill() }
            try await operatorClient.waitForLine { $0.hasPrefix("ACK note") }
            let noteAck = try #require(operatorClient.lines.first { $0.hasPrefix("ACK note") })
            #expect(noteAck.contains(#""ok": true"#) && noteAck.contains(#""text": "Vent 3 stuck""#))
            try await watcher.waitForLine { $0.hasPrefix("EVENT note") && $0.contains("Vent 3 stuck") && $0.contains("alice") }

            try await kafka.send(kafka.topics.alerts, key: "pump-2", kafka.alert("pump-2", id: "00000000000000b2"))
            try await operatorClient.waitForLine { $0.hasPrefix("ACK alert:ack") }
            let ack = try #require(operatorClient.lines.first { $0.hasPrefix("ACK alert:ack") })
            #expect(ack.contains(#""ok": true"#), "\(ack)")
            try await watcher.waitForLine {
                $0.hasPrefix("EVENT alert") && $0.contains(#""state": "acknowledged""#) && $0.contains(#""ackedBy": "alice""#)
            }
        }
    }

    @Test func clientsWithoutAValidTokenAreRefused() async throws {
        try await withHubs(configure: { $0.tokens = ["s3cret"] }) { _, hubs in
            let url = hubs[0].url
            let wrong = try PythonClient.start(url, ["--token", "nope"])
            try await wrong.waitForLine { $0.hasPrefix("CONNECT_ERROR") || $0.hasPrefix("REFUSED") }
            #expect(wrong.lines.contains { $0.hasPrefix("CONNECT_ERROR") && $0.contains("unauthorized") })
            #expect(!wrong.lines.contains { $0.hasPrefix("CONNECTED") })
            await wrong.stop()
            let missing = try PythonClient.start(url)
            try await missing.waitForLine { $0.hasPrefix("CONNECT_ERROR") || $0.hasPrefix("REFUSED") }
            #expect(!missing.lines.contains { $0.hasPrefix("CONNECTED") })
            await missing.stop()
            let right = try PythonClient.start(url, ["--token", "s3cret", "--subscribe", #"{"devices":["*"]}"#])
            try await right.waitForLine { $0.hasPrefix("ACK subscribe") }
            #expect(right.lines.contains { $0.hasPrefix("CONNECTED") })
            await right.stop()

            #expect(try await httpGet(url + "/api/devices").status == 401)
            #expect(try await httpGet(url + "/api/devices", headers: ["Authorization: Bearer s3cret"]).status == 200)
            #expect(try await httpGet(url + "/api/devices?token=s3cret").status == 200)
            #expect(try await httpGet(url + "/healthz").status == 200)
        }
    }

    @Test func aSlowClientDoesNotDelayTheOthers() async throws {
        try await withHubs(configure: { $0.maxQueuedBytes = 2 << 20 }) { kafka, hubs in
            let hub = hubs[0]
            let slow = try ChildProcess.spawn(
                repositoryRoot + "/.venv/bin/python",
                arguments: ["-u", repositoryRoot + "/Tests/HubTests/Clients/slow_client.py", "127.0.0.1", String(hub.port)])
            defer { slow.kill() }
            try await slow.waitForOutput(timeout: .seconds(10)) { $0.contains("SUBSCRIBED") }
            let fast = try PythonClient.start(
                hub.url, ["--transport", "websocket", "--subscribe", #"{"devices":["*"],"events":["reading"]}"#])
            defer { fast.process.kill() }
            try await fast.waitForLine { $0.hasPrefix("ACK subscribe") }
            #expect(hub.hub.io.connectionCount == 2)
            let metrics = (0..<60).map { Metric("m\($0)", Double($0) + 0.123456789) }
            let count = 6000
            let start = ContinuousClock.now
            // Produced in chunks paced by the fast client (it may lag at most 750 readings, well
            // under its 2 MiB queue), so only a client that stops reading overflows.
            for chunk in stride(from: 0, to: count, by: 250) {
                try await waitUntil(timeout: .seconds(60), "the fast client keeps up") {
                    fast.events.count { $0.name == "reading" } >= chunk - 500
                }
                let batch = (chunk..<min(chunk + 250, count)).map { seq in
                    KafkaProducerRecord(
                        topic: kafka.topics.readings, key: "load-\(seq % 10)",
                        value: kafka.reading("load-\(seq % 10)", seq: UInt64(seq), metrics: metrics))
                }
                _ = try await kafka.producer.send(batch: batch)
            }
            do {
                try await waitUntil(timeout: .seconds(60), "the fast client got every reading") {
                    fast.events.count { $0.name == "reading" } >= count
                }
            } catch {
                Issue.record("fast client got \(fast.events.count { $0.name == "reading" }) of \(count); last lines: \(fast.lines.suffix(2).map { $0.prefix(100) })")
                throw error
            }
            let elapsed = ContinuousClock.now - start
            // The slow client's queue overflowed: the hub closed its session instead of waiting.
            try await waitUntil(timeout: .seconds(10), "the slow session is closed") { hub.hub.io.connectionCount == 1 }
            print("slow-client test: \(count) readings to the fast client in \(elapsed)")
        }
    }

    @Test func httpServesDashboardsAndAPI() async throws {
        try await withHubs(configure: { $0.vendorDirectory = "/nonexistent-vendor" }) { kafka, hubs in
            let url = hubs[0].url
            let index = try await httpGet(url + "/")
            #expect(index.status == 200)
            #expect(index.headers["content-type"]?.hasPrefix("text/html") == true)
            let script = try await httpGet(url + "/js/hub.js")
            #expect(script.status == 200)
            #expect(script.headers["content-type"]?.hasPrefix("text/javascript") == true)
            let css = try await httpGet(url + "/css/app.css")
            #expect(css.headers["content-type"]?.hasPrefix("text/css") == true)
            #expect(try await httpGet(url + "/dev/fake_hub.py").status == 404)
            #expect(try await httpGet(url + "/js/../../Package.swift").status == 404)
            #expect(try await httpGet(url + "/js/..%2f..%2fPackage.swift").status == 404)
            let vendor = try await httpGet(url + "/socket.io/socket.io.min.js")
            #expect(vendor.status == 404)
            #expect(vendor.body.contains("scripts/bootstrap.sh"))

            try await kafka.send(kafka.topics.readings, key: "gh-1", kafka.reading("gh-1", seq: 3))
            try await kafka.send(kafka.topics.deviceStatus, key: "gh-2",
                DeviceStatusRecord(device: DeviceID("gh-2")!, status: .offline, ts: WallClock.nowMilliseconds()).encoded())
            try await waitUntil(timeout: .seconds(10), "devices known") {
                jsonObject(try await httpGet(url + "/api/devices").body)["devices"].map { ($0 as? [Any])?.count == 2 } ?? false
            }
            let page = try await httpGet(url + "/api/devices?limit=1")
            #expect(page.headers["cache-control"] == "no-store")
            let body = jsonObject(page.body)
            #expect(body["next"] as? String == "gh-1")
            let first = (body["devices"] as? [[String: Any]])?.first
            #expect(first?["status"] as? String == "online")
            #expect(first?["lastSeq"] as? Int == 3)
            let second = jsonObject(try await httpGet(url + "/api/devices?after=gh-1").body)
            #expect(((second["devices"] as? [[String: Any]])?.first?["status"]) as? String == "offline")
            let device = try await httpGet(url + "/api/devices/gh-1")
            #expect(device.status == 200)
            #expect(((jsonObject(device.body)["history"] as? [String: Any])?["readings"] as? [Any])?.count == 1)
            #expect(try await httpGet(url + "/api/devices/nobody").status == 404)
            #expect(try await httpGet(url + "/api/devices/bad%20id").status == 400)
            #expect(try await httpGet(url + "/api/alerts?state=bogus").status == 400)
            #expect(try await httpGet(url + "/readyz").status == 200)
        }
    }

    @Test func operatorActionsAnswerUnavailableWhenKafkaIsDown() async throws {
        try await withHubs(configure: { $0.operatorWriteTimeout = .seconds(2) }) { kafka, hubs in
            try await kafka.send(kafka.topics.alerts, key: "d9", kafka.alert("d9", id: "00000000000000c3"))
            try await waitUntil(timeout: .seconds(10), "the hub knows the alert") {
                hubs[0].hub.service.store.withState { $0.alerts["00000000000000c3"] != nil }
            }
            try kafka.cluster.setAllBrokersDown()
            defer { try? kafka.cluster.setAllBrokersUp() }
            let start = ContinuousClock.now
            let client = try PythonClient.start(
                hubs[0].url, ["--subscribe", #"{"devices":["d9"]}"#, "--ack-on-alert", "--note", "d9", "hello"])
            defer { client.process.kill() }
            try await client.waitForLine { $0.hasPrefix("ACK note") }
            let note = try #require(client.lines.first { $0.hasPrefix("ACK note") })
            #expect(note.contains(#""code": "unavailable""#), "\(note)")
            #expect(ContinuousClock.now - start < .seconds(9), "answered before the client's 10 s ack timeout")
        }
    }

    @Test func originAllowList() async throws {
        try await withHubs(configure: { $0.allowedOrigins = ["https://dash.example"] }) { _, hubs in
            let port = hubs[0].port
            let url = hubs[0].url + "/socket.io/?EIO=4&transport=polling"
            let none = try await httpGet(url)
            #expect(none.status == 200, "no Origin: non-browser client")
            let own = try await httpGet(url, headers: ["Origin: http://127.0.0.1:\(port)"])
            #expect(own.status == 200, "own origin")
            let listed = try await httpGet(url, headers: ["Origin: https://dash.example"])
            #expect(listed.status == 200, "allow-listed")
            #expect(try await httpGet(url, headers: ["Origin: https://evil.example"]).status == 403)
        }
    }

    @Test func roomsDeliverOnceAndFleetEventFilters() async throws {
        try await withHubs { kafka, hubs in
            let both = try PythonClient.start(
                hubs[0].url, ["--subscribe", #"{"devices":["d5"],"history":false}"#, "--subscribe", #"{"devices":["*"]}"#])
            defer { both.process.kill() }
            let alertsOnly = try PythonClient.start(hubs[0].url, ["--subscribe", #"{"devices":["*"],"events":["alert"]}"#])
            defer { alertsOnly.process.kill() }
            try await both.waitForLine { $0.contains(#""devices": ["*"]"#) }
            try await alertsOnly.waitForLine { $0.hasPrefix("ACK subscribe") }
            #expect(alertsOnly.lines.contains { $0.contains(#""events": ["alert"]"#) })
            try await kafka.send(kafka.topics.readings, key: "d5", kafka.reading("d5", seq: 1))
            try await kafka.send(kafka.topics.alerts, key: "d5", kafka.alert("d5", id: "00000000000000d5"))
            try await both.waitForLine { $0.hasPrefix("EVENT alert") }
            try await alertsOnly.waitForLine { $0.hasPrefix("EVENT alert") }
            try await Task.sleep(for: .milliseconds(300))
            #expect(both.events.count { $0.name == "reading" } == 1, "in device:d5 and fleet, delivered once")
            #expect(both.events.count { $0.name == "alert" } == 1)
            #expect(!alertsOnly.events.contains { $0.name == "reading" || $0.name == "device-status" })
        }
    }

    @Test func clientsBeyondTheCapAreRefusedReadably() async throws {
        try await withHubs(configure: { $0.maxClients = 1 }) { _, hubs in
            let first = try PythonClient.start(hubs[0].url, ["--subscribe", #"{"devices":["*"]}"#])
            defer { first.process.kill() }
            try await first.waitForLine { $0.hasPrefix("ACK subscribe") }
            let second = try PythonClient.start(hubs[0].url)
            try await second.waitForLine { $0.hasPrefix("CONNECT_ERROR") || $0.hasPrefix("REFUSED") }
            #expect(second.lines.contains { $0.hasPrefix("CONNECT_ERROR") && $0.contains("too-many-clients") })
            await second.stop()
        }
    }
}
