import NIOCore
@testable import SocketIO
import Testing

/// The official engine.io-protocol test suite's assertions, against the in-process echo server.
@Suite(.timeLimit(.minutes(1)))
struct EngineIOProtocolTests {
    static let base = "/engine.io/"

    static func openPolling(_ port: Int, base: String = base) async throws -> String {
        let response = try await RawHTTP.get(port: port, "\(base)?EIO=4&transport=polling")
        guard response.text.hasPrefix("0"), let sid = try JSONParser().parse(response.text.dropFirst())["sid"]?.stringValue
        else { throw TestFailure("bad handshake \(response.text)") }
        return sid
    }

    static func checkHandshake(_ text: String, upgrades: JSONValue) throws {
        #expect(text.hasPrefix("0"))
        let value = try JSONParser().parse(text.dropFirst())
        guard case .object(let members) = value else { throw TestFailure("not an object") }
        #expect(Set(members.map(\.key)) == ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
        #expect(value["sid"]?.stringValue != nil)
        #expect(value["upgrades"] == upgrades)
        #expect(value["pingInterval"] == 300)
        #expect(value["pingTimeout"] == 200)
        #expect(value["maxPayload"] == 1_000_000)
    }

    @Test func pollingHandshakeOpensASession() async throws {
        try await TestServer.with(TestServer.conformanceConfiguration()) { server in
            let response = try await RawHTTP.get(port: server.port, "\(Self.base)?EIO=4&transport=polling")
            #expect(response.status == 200)
            try Self.checkHandshake(response.text, upgrades: ["websocket"])
        }
    }

    @Test func handshakeFailsWithAnInvalidEIO() async throws {
        try await TestServer.with { server in
            for query in ["transport=polling", "EIO=abc&transport=polling", "EIO=3&transport=polling"] {
                let response = try await RawHTTP.get(port: server.port, "\(Self.base)?\(query)")
                #expect(response.status == 400)
                #expect(response.text == #"{"code":5,"message":"Unsupported protocol version"}"#)
            }
        }
    }

    @Test func handshakeFailsWithAnInvalidTransport() async throws {
        try await TestServer.with { server in
            for query in ["EIO=4", "EIO=4&transport=abc"] {
                let response = try await RawHTTP.get(port: server.port, "\(Self.base)?\(query)")
                #expect(response.status == 400)
                #expect(response.text == #"{"code":0,"message":"Transport unknown"}"#)
            }
        }
    }

    @Test func handshakeFailsWithAnInvalidMethod() async throws {
        try await TestServer.with { server in
            for method in ["POST", "PUT"] {
                let response = try await RawHTTP.request(
                    port: server.port, method: method, path: "\(Self.base)?EIO=4&transport=polling")
                #expect(response.status == 400)
                #expect(response.text == #"{"code":2,"message":"Bad handshake method"}"#)
            }
        }
    }

    @Test func unknownSessionIDIsRefused() async throws {
        try await TestServer.with { server in
            let response = try await RawHTTP.get(port: server.port, "\(Self.base)?EIO=4&transport=polling&sid=nope")
            #expect(response.status == 400)
            #expect(response.text == #"{"code":1,"message":"Session ID unknown"}"#)
        }
    }

    @Test func webSocketHandshakeOpensASession() async throws {
        try await TestServer.with(TestServer.conformanceConfiguration()) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            guard case .text(let text) = try await socket.receive() else { throw TestFailure("no handshake") }
            try Self.checkHandshake(text, upgrades: [])
        }
    }

    @Test func webSocketHandshakeFailsWithInvalidParameters() async throws {
        try await TestServer.with { server in
            for query in ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"] {
                let (socket, status) = try await RawWebSocket.connect(port: server.port, path: "\(Self.base)?\(query)")
                #expect(socket == nil)
                #expect(status == 400)
            }
        }
    }

    @Test(arguments: [
        ("4hello", "4hello"),
        ("4test1\u{1e}4test2\u{1e}4test3", "4test1\u{1e}4test2\u{1e}4test3"),
        ("4hello\u{1e}bAQIDBA==", "4hello\u{1e}bAQIDBA=="),
    ])
    func pollingSendsAndReceivesPayloads(sent: String, expected: String) async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=polling&sid=\(sid)"
            let push = try await RawHTTP.post(port: server.port, path, sent)
            #expect(push.status == 200)
            #expect(push.text == "ok")
            let poll = try await RawHTTP.get(port: server.port, path)
            #expect(poll.status == 200)
            #expect(poll.text == expected)
        }
    }

    @Test func pollingClosesTheSessionUponInvalidPacketFormat() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=polling&sid=\(sid)"
            let push = try await RawHTTP.post(port: server.port, path, "abc")
            #expect(push.status == 400)
            let poll = try await RawHTTP.get(port: server.port, path)
            #expect(poll.status == 400)
        }
    }

    @Test func pollingClosesTheSessionUponDuplicatePolls() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=polling&sid=\(sid)"
            async let first = RawHTTP.get(port: server.port, path)
            try await eventually { server.echo.session(id: sid)?.hasPendingPoll == true }
            let second = try await RawHTTP.get(port: server.port, path + "&t=burst")
            let firstResponse = try await first
            #expect(firstResponse.status == 200)
            #expect(firstResponse.text == "1")
            #expect(second.status == 400)
            let third = try await RawHTTP.get(port: server.port, path)
            #expect(third.status == 400)
        }
    }

    @Test func webSocketSendsAndReceivesText() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("4hello")
            #expect(try await socket.receive() == .text("4hello"))
        }
    }

    @Test func webSocketSendsAndReceivesBinary() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send(binary: [1, 2, 3, 4])
            #expect(try await socket.receive() == .binary([1, 2, 3, 4]))
        }
    }

    @Test func webSocketClosesTheSessionUponInvalidPacketFormat() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("abc")
            try await socket.waitForClose()
            #expect(server.echo.sessionCount == 0)
        }
    }

    @Test func pollingHeartbeat() async throws {
        var configuration = TestServer.conformanceConfiguration()
        configuration.engine.pingTimeout = .seconds(10)  // the 300 ms ping cycle is under test, not the timeout (2 s was once too short in a loaded full run)
        try await TestServer.with(configuration) { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=polling&sid=\(sid)"
            for _ in 0..<3 {
                let poll = try await RawHTTP.get(port: server.port, path)
                #expect(poll.status == 200)
                #expect(poll.text == "2")
                let push = try await RawHTTP.post(port: server.port, path, "3")
                #expect(push.status == 200)
            }
        }
    }

    @Test func pollingPingTimeoutClosesTheSession() async throws {
        try await TestServer.with(TestServer.conformanceConfiguration()) { server in
            let sid = try await Self.openPolling(server.port)
            try await Task.sleep(for: .milliseconds(500))
            let poll = try await RawHTTP.get(port: server.port, "\(Self.base)?EIO=4&transport=polling&sid=\(sid)")
            #expect(poll.status == 400)
        }
    }

    @Test func webSocketHeartbeat() async throws {
        var configuration = TestServer.conformanceConfiguration()
        configuration.engine.pingTimeout = .seconds(10)  // the 300 ms ping cycle is under test, not the timeout (2 s was once too short in a loaded full run)
        try await TestServer.with(configuration) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            for _ in 0..<3 {
                #expect(try await socket.receive() == .text("2"))
                try await socket.send("3")
            }
        }
    }

    @Test func webSocketPingTimeoutClosesTheSession() async throws {
        try await TestServer.with(TestServer.conformanceConfiguration()) { server in
            let start = ContinuousClock.now
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            try await socket.waitForClose()
            #expect(ContinuousClock.now - start >= .milliseconds(450))
        }
    }

    @Test func pollingForcefulClose() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=polling&sid=\(sid)"
            async let poll = RawHTTP.get(port: server.port, path)
            try await eventually { server.echo.session(id: sid)?.hasPendingPoll == true }
            _ = try await RawHTTP.post(port: server.port, path, "1")
            let pollResponse = try await poll
            #expect(pollResponse.status == 200)
            #expect(pollResponse.text == "6")
            #expect(try await RawHTTP.get(port: server.port, path).status == 400)
        }
    }

    @Test func webSocketForcefulClose() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "\(Self.base)?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("1")
            try await socket.waitForClose()
        }
    }

    @Test func upgradeFromPollingToWebSocket() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let socket = try await RawWebSocket.open(
                port: server.port, path: "\(Self.base)?EIO=4&transport=websocket&sid=\(sid)")
            defer { socket.close() }
            try await socket.send("2probe")
            #expect(try await socket.receive() == .text("3probe"))
            let poll = try await RawHTTP.get(port: server.port, "\(Self.base)?EIO=4&transport=polling&sid=\(sid)")
            #expect(poll.status == 200)
            #expect(poll.text == "6")
            try await socket.send("5")
            try await socket.send("4hello")
            #expect(try await socket.receive() == .text("4hello"))
        }
    }

    @Test func httpRequestsWithTheSameSIDAreRefusedAfterUpgrade() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let socket = try await RawWebSocket.open(
                port: server.port, path: "\(Self.base)?EIO=4&transport=websocket&sid=\(sid)")
            defer { socket.close() }
            try await socket.send("2probe")
            try await socket.send("5")
            #expect(try await socket.receive() == .text("3probe"))
            let poll = try await RawHTTP.get(port: server.port, "\(Self.base)?EIO=4&transport=polling&sid=\(sid)")
            #expect(poll.status == 400)
            try await socket.send("4hello")
            #expect(try await socket.receive() == .text("4hello"))
        }
    }

    @Test func webSocketsWithTheSameSIDAreClosedAfterUpgrade() async throws {
        try await TestServer.with { server in
            let sid = try await Self.openPolling(server.port)
            let path = "\(Self.base)?EIO=4&transport=websocket&sid=\(sid)"
            let socket = try await RawWebSocket.open(port: server.port, path: path)
            defer { socket.close() }
            try await socket.send("2probe")
            try await socket.send("5")
            #expect(try await socket.receive() == .text("3probe"))
            let second = try await RawWebSocket.open(port: server.port, path: path)
            try await second.waitForClose()
            try await socket.send("4hello")
            #expect(try await socket.receive() == .text("4hello"))
        }
    }
}
