import Hummingbird
import NIOCore
import SocketIO
import Testing

/// The event-driven WebSocket transport (`.socketIO(_:webSocketRouter:)`, which `TestServer`
/// uses): WebSocket-level pings and close handshake, back-pressure, and the HTTP routes it
/// shares the port with.
@Suite(.timeLimit(.minutes(1)))
struct WebSocketTransportTests {
    static let enginePath = "/engine.io/?EIO=4&transport=websocket"

    @Test func webSocketPingIsAnsweredWithItsPayload() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.enginePath)
            defer { socket.close() }
            _ = try await socket.receive()  // open packet
            try await socket.sendFrame(opcode: 0x9, payload: Array("hi".utf8))
            let frame = await socket.receiveFrame()
            #expect(frame?.opcode == 0xA)
            #expect(frame?.payload == Array("hi".utf8))
        }
    }

    @Test func clientCloseIsAnsweredWithItsCodeAndEndsTheSession() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.enginePath)
            defer { socket.close() }
            _ = try await socket.receive()
            #expect(server.echo.sessionCount == 1)
            try await socket.sendFrame(opcode: 0x8, payload: [0x03, 0xE9])  // 1001 going away
            let frame = await socket.receiveFrame()
            #expect(frame?.opcode == 0x8)
            #expect(frame?.payload == [0x03, 0xE9])
            #expect(await socket.receiveFrame() == nil)  // then the server closes the connection
            try await eventually { server.echo.sessionCount == 0 }
        }
    }

    @Test func serverCloseSendsANormalClosure() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(port: server.port, path: Self.enginePath)
            defer { socket.close() }
            _ = try await socket.receive()
            server.echo.closeAll()
            let frame = await socket.receiveFrame()
            #expect(frame?.opcode == 0x8)
            #expect(frame?.payload.prefix(2) == [0x03, 0xE8])  // 1000
        }
    }

    @Test func applicationRoutesShareThePortAndOtherUpgradesAreRefused() async throws {
        try await TestServer.with(routes: { router in
            router.get("/hello") { _, _ in "hi" }
        }) { server in
            let hello = try await RawHTTP.get(port: server.port, "/hello")
            #expect(hello.status == 200)
            #expect(hello.text == "hi")
            let (refused, status) = try await RawWebSocket.connect(port: server.port, path: "/hello")
            #expect(refused == nil)
            #expect(status == 400)
            // Engine.IO still upgrades on the same server.
            let socket = try await RawWebSocket.open(port: server.port, path: Self.enginePath)
            defer { socket.close() }
            guard case .text(let open) = try await socket.receive() else { throw TestFailure("closed") }
            #expect(open.hasPrefix("0{"))
        }
    }

    @Test func aWebSocketClientThatDoesNotReadOverflowsItsQueue() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.maxQueuedBytes = 256 << 10
        let reasons = ReasonLog()
        try await TestServer.with(configuration, setUp: { io in
            io.of("/") { socket in
                socket.join("busy")
                socket.onDisconnect { reasons.append($0) }
            }
        }) { server in
            let (client, _) = try await ServerAPITests.join(server.port)
            defer { client.close() }
            try await eventually { server.io.mainNamespace.sockets.count == 1 }
            try await client.connection.channel.setOption(ChannelOptions.autoRead, value: false).get()
            // 32 MB for a client that reads nothing: more than the socket buffers hold, so the
            // channel stops being writable and the rest waits in the capped send queue.
            let payload = JSONValue.string(String(repeating: "x", count: 16 << 10))
            for _ in 0..<2_048 {
                server.io.to("busy").emit("tick", payload)
                if !reasons.values.isEmpty { break }
                await Task.yield()
            }
            try await eventually(timeout: .seconds(10)) { !reasons.values.isEmpty }
            #expect(reasons.values == [SocketIODisconnectReason("send queue overflow")])
        }
    }
}
