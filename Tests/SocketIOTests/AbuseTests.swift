import NIOCore
import Synchronization
import SocketIO
import Testing

/// A slow or malicious client must only ever hurt its own session.
@Suite(.timeLimit(.minutes(1)))
struct AbuseTests {
    static func smallPayloadConfiguration() -> SocketIOConfiguration {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.maxPayload = 1_000
        return configuration
    }

    @Test func oversizedWebSocketFrameIsRefused() async throws {
        try await TestServer.with(Self.smallPayloadConfiguration()) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "/engine.io/?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("4" + String(repeating: "x", count: 999))  // exactly maxPayload: fine
            #expect(try await socket.receive() == .text("4" + String(repeating: "x", count: 999)))
            try await socket.send("4" + String(repeating: "x", count: 2_000))
            try await socket.waitForClose()
            try await eventually { server.echo.sessionCount == 0 }
        }
    }

    @Test func oversizedFragmentedWebSocketMessageIsRefused() async throws {
        try await TestServer.with(Self.smallPayloadConfiguration()) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "/engine.io/?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.sendFrame(opcode: 0x1, payload: Array(("4" + String(repeating: "a", count: 800)).utf8), fin: false)
            try await socket.sendFrame(opcode: 0x0, payload: Array(String(repeating: "b", count: 800).utf8), fin: true)
            try await socket.waitForClose()
            try await eventually { server.echo.sessionCount == 0 }
        }
    }

    @Test func oversizedPollingPostIsRefused() async throws {
        try await TestServer.with(Self.smallPayloadConfiguration()) { server in
            let sid = try await EngineIOProtocolTests.openPolling(server.port)
            let path = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            let push = try await RawHTTP.post(port: server.port, path, "4" + String(repeating: "x", count: 2_000))
            #expect(push.status == 413)
            #expect(try await RawHTTP.get(port: server.port, path).status == 400)
        }
    }

    @Test func foreignOriginIsRefusedOnBothTransports() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.allowedOrigins = .only(["http://good.example"])
        try await TestServer.with(configuration) { server in
            let handshake = "/socket.io/?EIO=4&transport=polling"
            let evil = try await RawHTTP.get(port: server.port, handshake, headers: [("Origin", "http://evil.example")])
            #expect(evil.status == 403)
            #expect(evil.text == #"{"code":4,"message":"Forbidden"}"#)
            let good = try await RawHTTP.get(port: server.port, handshake, headers: [("Origin", "http://good.example")])
            #expect(good.status == 200)
            let none = try await RawHTTP.get(port: server.port, handshake)
            #expect(none.status == 200)
            let (refused, status) = try await RawWebSocket.connect(
                port: server.port, path: "/socket.io/?EIO=4&transport=websocket",
                headers: [("Origin", "http://evil.example")])
            #expect(refused == nil)
            // Hummingbird answers every refused upgrade with a plain 400 (polling gets the 403).
            #expect(status == 400)
            let accepted = try await RawWebSocket.open(
                port: server.port, path: "/socket.io/?EIO=4&transport=websocket",
                headers: [("Origin", "http://good.example")])
            accepted.close()
        }
    }

    @Test(arguments: [
        "4abc", "42{}", "42[]", "42[1", #"42["a",01]"#, "43[", "49", "451-[\"x\"]", "4512-[\"x\"]",
        String(repeating: "[", count: 200), "42" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        #"42["a","\ud800"]"#, #"40{"a":}"#, "41{}", "44{}", "4/" + String(repeating: "n", count: 300) + ",",
    ])
    func malformedPacketsCloseOnlyTheirSession(packet: String) async throws {
        var configuration = Self.smallPayloadConfiguration()
        configuration.engine.maxPayload = 100_000
        try await TestServer.with(configuration) { server in
            let victim = try await SocketIOProtocolTests.connect(server.port)
            defer { victim.close() }
            let attacker = try await SocketIOProtocolTests.connect(server.port)
            defer { attacker.close() }
            try await attacker.send(packet)
            if packet.hasPrefix("451-") || packet.hasPrefix("4512-") {
                // A binary packet header: the next text message (instead of an attachment) or
                // the attachment cap ends the session.
                try? await attacker.send("42[\"x\"]")  // may already be closed (attachment cap)
            }
            try await attacker.waitForClose()
            try await victim.send(#"42["message","still here"]"#)
            #expect(try await victim.receiveSkippingPings() == .text(#"42["message-back","still here"]"#))
        }
    }

    @Test func slowPollingClientIsDroppedWhenItsQueueOverflows() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.maxQueuedPackets = 10
        let reasons = ReasonLog()
        try await TestServer.with(configuration, setUp: { io in
            io.of("/") { socket in
                socket.join("busy")
                socket.onDisconnect { reasons.append($0) }
            }
        }) { server in
            let sid = try await EngineIOProtocolTests.openPolling(server.port, base: "/socket.io/")
            let path = "/socket.io/?EIO=4&transport=polling&sid=\(sid)"
            #expect(try await RawHTTP.post(port: server.port, path, "40").status == 200)
            try await eventually { server.io.mainNamespace.sockets.count == 1 }
            for index in 0..<20 { server.io.to("busy").emit("tick", .number(Double(index))) }
            try await eventually { reasons.values == [SocketIODisconnectReason("send queue overflow")] }
            #expect(try await RawHTTP.get(port: server.port, path).status == 400)
        }
    }

    @Test func pollingResponsesAreCompressedAboveTheThreshold() async throws {
        try await TestServer.with { server in
            let sid = try await EngineIOProtocolTests.openPolling(server.port)
            let path = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            let big = "4" + String(repeating: "abcdefgh", count: 500)
            _ = try await RawHTTP.post(port: server.port, path, big)
            let gzip = try await RawHTTP.get(port: server.port, path, headers: [("Accept-Encoding", "gzip, deflate")])
            #expect(gzip.status == 200)
            #expect(gzip.header("Content-Encoding") == "gzip")
            #expect(gzip.body.readableBytes < big.utf8.count / 4)
            #expect(Array(gzip.body.readableBytesView.prefix(2)) == [0x1F, 0x8B])
            _ = try await RawHTTP.post(port: server.port, path, big)
            let deflate = try await RawHTTP.get(port: server.port, path, headers: [("Accept-Encoding", "deflate")])
            #expect(deflate.header("Content-Encoding") == "deflate")
            _ = try await RawHTTP.post(port: server.port, path, big)
            let plain = try await RawHTTP.get(port: server.port, path)
            #expect(plain.header("Content-Encoding") == nil)
            #expect(plain.text == big)
            _ = try await RawHTTP.post(port: server.port, path, "4small")
            let small = try await RawHTTP.get(port: server.port, path, headers: [("Accept-Encoding", "gzip")])
            #expect(small.header("Content-Encoding") == nil)
            #expect(small.text == "4small")
        }
    }
}

/// Thread-safe list of disconnect reasons seen by a handler.
final class ReasonLog: Sendable {
    private let storage = Mutex<[SocketIODisconnectReason]>([])
    func append(_ reason: SocketIODisconnectReason) { storage.withLock { $0.append(reason) } }
    var values: [SocketIODisconnectReason] { storage.withLock { $0 } }
}

/// Polls `condition` until it holds (or fails after `timeout`).
func eventually(timeout: Duration = .seconds(5), _ condition: @Sendable () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw TestFailure("condition not met within \(timeout)") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

@Suite(.timeLimit(.minutes(1)))
struct TransportEdgeTests {
    @Test func anUnfinishedUpgradeIsDroppedAfterTheUpgradeTimeout() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.upgradeTimeout = .milliseconds(300)
        try await TestServer.with(configuration) { server in
            let sid = try await EngineIOProtocolTests.openPolling(server.port)
            let start = ContinuousClock.now
            let socket = try await RawWebSocket.open(
                port: server.port, path: "/engine.io/?EIO=4&transport=websocket&sid=\(sid)")
            defer { socket.close() }
            try await socket.waitForClose()  // never probed
            #expect(ContinuousClock.now - start >= .milliseconds(250))
            // Polling carries on.
            let path = "/engine.io/?EIO=4&transport=polling&sid=\(sid)"
            #expect(try await RawHTTP.post(port: server.port, path, "4still").status == 200)
            #expect(try await RawHTTP.get(port: server.port, path).text == "4still")
        }
    }

    @Test func corsHeadersAndPreflight() async throws {
        try await TestServer.with { server in
            let handshake = try await RawHTTP.get(
                port: server.port, "/socket.io/?EIO=4&transport=polling", headers: [("Origin", "http://a.example")])
            #expect(handshake.header("Access-Control-Allow-Origin") == "*")
            let preflight = try await RawHTTP.request(
                port: server.port, method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling",
                headers: [("Origin", "http://a.example"), ("Access-Control-Request-Headers", "content-type")])
            #expect(preflight.status == 204)
            #expect(preflight.header("Access-Control-Allow-Origin") == "*")
            #expect(preflight.header("Access-Control-Allow-Headers") == "content-type")
            #expect(preflight.header("Access-Control-Allow-Methods")?.contains("POST") == true)
        }
    }

    @Test func corsIsOffByDefault() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.cors = nil
        try await TestServer.with(configuration) { server in
            let handshake = try await RawHTTP.get(
                port: server.port, "/socket.io/?EIO=4&transport=polling", headers: [("Origin", "http://a.example")])
            #expect(handshake.status == 200)
            #expect(handshake.header("Access-Control-Allow-Origin") == nil)
        }
    }
}
