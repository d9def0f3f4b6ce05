import NIOCore
import SocketIO
import Testing

/// The official socket.io-protocol test suite's Socket.IO assertions (its Engine.IO part is
/// the same as `EngineIOProtocolTests`, here run once more against `/socket.io/`).
@Suite(.timeLimit(.minutes(1)))
struct SocketIOProtocolTests {
    static let path = "/socket.io/?EIO=4&transport=websocket"

    /// Opens a WebSocket, joins `/` and reads the CONNECT response and the `auth` event.
    static func connect(_ port: Int) async throws -> RawWebSocket {
        let socket = try await RawWebSocket.open(port: port, path: path)
        _ = try await socket.receive()
        try await socket.send("40")
        guard case .text(let connect) = try await socket.receiveSkippingPings(), connect.hasPrefix("40") else {
            throw TestFailure("no CONNECT response")
        }
        #expect(try await socket.receiveSkippingPings() == .text(#"42["auth",{}]"#))
        return socket
    }

    @Test func engineHandshakeOnTheSocketIOPath() async throws {
        try await TestServer.with(TestServer.conformanceConfiguration()) { server in
            let response = try await RawHTTP.get(port: server.port, "/socket.io/?EIO=4&transport=polling")
            #expect(response.status == 200)
            try EngineIOProtocolTests.checkHandshake(response.text, upgrades: ["websocket"])
            #expect(try await RawHTTP.get(port: server.port, "/socket.io/?EIO=4").status == 400)
        }
    }

    @Test(arguments: [
        ("40", "40", #"42["auth",{}]"#),
        (#"40{"token":"123"}"#, "40", #"42["auth",{"token":"123"}]"#),
        ("40/custom,", "40/custom,", #"42/custom,["auth",{}]"#),
        (#"40/custom,{"token":"abc"}"#, "40/custom,", #"42/custom,["auth",{"token":"abc"}]"#),
    ])
    func connectsToANamespace(sent: String, prefix: String, auth: String) async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.path)
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send(sent)
            guard case .text(let data) = try await socket.receiveSkippingPings() else { throw TestFailure("closed") }
            #expect(data.hasPrefix(prefix))
            let handshake = try JSONParser().parse(data.dropFirst(prefix.count))
            guard case .object(let members) = handshake else { throw TestFailure("not an object") }
            #expect(members.map(\.key) == ["sid"])
            #expect(handshake["sid"]?.stringValue != nil)
            #expect(try await socket.receiveSkippingPings() == .text(auth))
        }
    }

    @Test func refusesAnUnknownNamespace() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.path)
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("40/random")
            #expect(try await socket.receiveSkippingPings() == .text(#"44/random,{"message":"Invalid namespace"}"#))
        }
    }

    @Test func closesUponAnInvalidHandshake() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.path)
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("4abc")
            try await socket.waitForClose()
        }
    }

    @Test func closesWhenNoHandshakeArrivesWithinTheConnectTimeout() async throws {
        var configuration = TestServer.conformanceConfiguration()
        configuration.engine.pingInterval = .seconds(10)  // so only the connect timeout can close it
        configuration.engine.pingTimeout = .seconds(10)
        try await TestServer.with(configuration) { server in
            let start = ContinuousClock.now
            let socket = try await RawWebSocket.open(port: server.port, path: Self.path)
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.waitForClose()
            let elapsed = ContinuousClock.now - start
            #expect(elapsed >= .milliseconds(900))
            #expect(elapsed < .seconds(5))
        }
    }

    @Test func disconnectsFromTheMainNamespaceAndKeepsTheConnection() async throws {
        var configuration = TestServer.conformanceConfiguration()
        configuration.engine.pingTimeout = .seconds(2)  // the next ping is under test, not the timeout
        configuration.connectTimeout = .seconds(10)
        try await TestServer.with(configuration) { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send("41")
            #expect(try await socket.receive() == .text("2"))  // nothing but the next ping
            try await socket.send("3")
            try await eventually { server.io.mainNamespace.sockets.isEmpty }
            #expect(server.io.connectionCount == 1)
        }
    }

    @Test func connectsThenDisconnectsFromACustomNamespace() async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send("40/custom")
            guard case .text(let connect) = try await socket.receiveSkippingPings() else { throw TestFailure("closed") }
            #expect(connect.hasPrefix("40/custom,"))
            #expect(try await socket.receiveSkippingPings() == .text(#"42/custom,["auth",{}]"#))
            try await socket.send("41/custom")
            try await socket.send(#"42["message","message to main namespace"]"#)
            #expect(try await socket.receiveSkippingPings() == .text(#"42["message-back","message to main namespace"]"#))
        }
    }

    @Test func sendsAPlainTextPacket() async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send(#"42["message",1,"2",{"3":[true]}]"#)
            #expect(try await socket.receiveSkippingPings() == .text(#"42["message-back",1,"2",{"3":[true]}]"#))
        }
    }

    @Test func sendsAPacketWithBinaryAttachments() async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send(#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            try await socket.send(binary: [1, 2, 3])
            try await socket.send(binary: [4, 5, 6])
            #expect(
                try await socket.receiveSkippingPings()
                    == .text(#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
            #expect(try await socket.receiveSkippingPings() == .binary([1, 2, 3]))
            #expect(try await socket.receiveSkippingPings() == .binary([4, 5, 6]))
        }
    }

    @Test func sendsAPlainTextPacketWithAnAck() async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send(#"42456["message-with-ack",1,"2",{"3":[false]}]"#)
            #expect(try await socket.receiveSkippingPings() == .text(#"43456[1,"2",{"3":[false]}]"#))
        }
    }

    @Test func sendsAPacketWithBinaryAttachmentsAndAnAck() async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send(
                #"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            try await socket.send(binary: [1, 2, 3])
            try await socket.send(binary: [4, 5, 6])
            #expect(
                try await socket.receiveSkippingPings()
                    == .text(#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#))
            #expect(try await socket.receiveSkippingPings() == .binary([1, 2, 3]))
            #expect(try await socket.receiveSkippingPings() == .binary([4, 5, 6]))
        }
    }

    @Test(arguments: ["4abc", "42{}", #"42abc["message-with-ack",1,"2",{"3":[false]}]"#])
    func closesUponAnInvalidFormat(packet: String) async throws {
        try await TestServer.with { server in
            let socket = try await Self.connect(server.port)
            defer { socket.close() }
            try await socket.send(packet)
            try await socket.waitForClose()
        }
    }
}
