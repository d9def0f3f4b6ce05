import NIOCore
import SocketIO
import Synchronization
import Testing

/// The server API the hub relies on: middleware with auth, rooms and broadcasts, acks in both
/// directions, connection state recovery.
@Suite(.timeLimit(.minutes(1)))
struct ServerAPITests {
    static func quietConfiguration() -> SocketIOConfiguration {
        TestServer.relaxedConfiguration()
    }

    /// Opens a WebSocket, sends `connect` and returns the socket and the CONNECT payload.
    static func join(_ port: Int, _ connect: String = "40") async throws -> (RawWebSocket, JSONValue) {
        let socket = try await RawWebSocket.open(port: port, path: "/socket.io/?EIO=4&transport=websocket")
        _ = try await socket.receive()
        try await socket.send(connect)
        guard case .text(let text) = try await socket.receiveSkippingPings() else { throw TestFailure("closed") }
        guard text.hasPrefix("40") else { throw TestFailure("refused: \(text)") }
        return (socket, try JSONParser().parse(text.dropFirst(2)))
    }

    @Test func middlewareRefusesWithoutTheRightToken() async throws {
        try await TestServer.with(Self.quietConfiguration(), setUp: { io in
            io.of("/").use { socket in
                guard socket.handshake.auth["token"] == "secret" else {
                    throw SocketIOConnectError("not authorized", data: ["code": 401])
                }
                socket.data = ["user": "ada"]
            }
            io.of("/") { socket in socket.emit("hello", socket.data["user"] ?? .null) }
        }) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send(#"40{"token":"wrong"}"#)
            #expect(try await socket.receive() == .text(#"44{"message":"not authorized","data":{"code":401}}"#))
            try await socket.send(#"40{"token":"secret"}"#)
            guard case .text(let connect) = try await socket.receive() else { throw TestFailure("closed") }
            #expect(connect.hasPrefix(#"40{"sid":"#))
            #expect(try await socket.receive() == .text(#"42["hello","ada"]"#))
        }
    }

    @Test func dynamicNamespacesAreMatchedByAPredicate() async throws {
        try await TestServer.with(Self.quietConfiguration(), setUp: { io in
            io.of(matching: { $0.hasPrefix("/tenant-") }) { socket in socket.emit("where", .string(socket.namespace.name)) }
        }) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
            defer { socket.close() }
            _ = try await socket.receive()
            try await socket.send("40/tenant-7,")
            guard case .text(let connect) = try await socket.receive() else { throw TestFailure("closed") }
            #expect(connect.hasPrefix("40/tenant-7,"))
            #expect(try await socket.receive() == .text(#"42/tenant-7,["where","/tenant-7"]"#))
            try await socket.send("40/other,")
            #expect(try await socket.receive() == .text(#"44/other,{"message":"Invalid namespace"}"#))
        }
    }

    @Test func broadcastsReachRoomsMinusExceptions() async throws {
        try await TestServer.with(Self.quietConfiguration(), setUp: { io in
            io.of("/") { socket in
                socket.on("join") { arguments, ack in
                    socket.join(arguments.compactMap(\.stringValue))
                    ack?.send([])
                }
                socket.on("leave") { arguments, ack in
                    if let room = arguments.first?.stringValue { socket.leave(room) }
                    ack?.send([])
                }
            }
        }) { server in
            let (a, _) = try await Self.join(server.port)
            let (b, _) = try await Self.join(server.port)
            let (c, _) = try await Self.join(server.port)
            defer { [a, b, c].forEach { $0.close() } }
            try await a.send(#"420["join","r1","vip"]"#)
            #expect(try await a.receive() == .text("430[]"))
            try await b.send(#"420["join","r1"]"#)
            #expect(try await b.receive() == .text("430[]"))
            try await c.send(#"420["join","r2"]"#)
            #expect(try await c.receive() == .text("430[]"))

            server.io.to("r1").emit("one", 1)
            #expect(try await a.receive() == .text(#"42["one",1]"#))
            #expect(try await b.receive() == .text(#"42["one",1]"#))
            server.io.to("r1").to("r2").except("vip").emit("two", 2)
            #expect(try await b.receive() == .text(#"42["two",2]"#))
            #expect(try await c.receive() == .text(#"42["two",2]"#))
            server.io.emit("all", "x")
            #expect(try await a.receive() == .text(#"42["all","x"]"#))  // a got nothing in between
            #expect(try await b.receive() == .text(#"42["all","x"]"#))
            #expect(try await c.receive() == .text(#"42["all","x"]"#))
            try await b.send(#"421["leave","r1"]"#)
            #expect(try await b.receive() == .text("431[]"))
            server.io.to("r1").emit("three", ["nested": [true, nil]])
            #expect(try await a.receive() == .text(#"42["three",{"nested":[true,null]}]"#))
            server.io.emit("end")
            #expect(try await b.receive() == .text(#"42["end"]"#))  // b left r1: no "three"
            #expect(server.io.mainNamespace.socketIDs(in: "r1").count == 1)
        }
    }

    @Test func serverEmitWithAckGetsTheClientsAnswerOrTimesOut() async throws {
        try await TestServer.with(Self.quietConfiguration(), setUp: { _ in }) { server in
            let (client, connect) = try await Self.join(server.port)
            defer { client.close() }
            guard let sid = connect["sid"]?.stringValue, let socket = server.io.mainNamespace.socket(id: sid) else {
                throw TestFailure("no socket")
            }
            async let answer = socket.emitWithAck("question", [41, .binary(ByteBuffer(bytes: [9, 8]))], timeout: .seconds(5))
            #expect(try await client.receive() == .text(#"451-0["question",41,{"_placeholder":true,"num":0}]"#))
            #expect(try await client.receive() == .binary([9, 8]))
            try await client.send(#"430[42,"ok"]"#)
            #expect(try await answer == [42, "ok"])

            let start = ContinuousClock.now
            await #expect(throws: SocketIOAckError.timeout) {
                try await socket.emitWithAck("ignored", [], timeout: .milliseconds(200))
            }
            #expect(ContinuousClock.now - start >= .milliseconds(190))
        }
    }

    @Test func clientBinaryEventsArriveAsBinaryValues() async throws {
        let seen = Mutex<[JSONValue]>([])
        try await TestServer.with(Self.quietConfiguration(), setUp: { io in
            io.of("/") { socket in
                socket.on("upload") { arguments, ack in
                    seen.withLock { $0 = arguments }
                    ack?.send(["got"])
                }
            }
        }) { server in
            let (client, _) = try await Self.join(server.port)
            defer { client.close() }
            try await client.send(#"451-7["upload",{"name":"f","data":{"_placeholder":true,"num":0}}]"#)
            try await client.send(binary: [0xDE, 0xAD])
            #expect(try await client.receive() == .text(#"437["got"]"#))
        }
        #expect(seen.withLock { $0 } == [["name": "f", "data": .binary(ByteBuffer(bytes: [0xDE, 0xAD]))]])
    }

    @Test func recoveryReplaysMissedRoomEventsInOrderWithoutDuplicates() async throws {
        var configuration = Self.quietConfiguration()
        configuration.connectionStateRecovery = ConnectionStateRecovery(
            store: InMemoryRecoveryStore(maxPackets: 100))
        let recoveredFlags = Mutex<[Bool]>([])
        try await TestServer.with(configuration, setUp: { io in
            io.of("/") { socket in
                recoveredFlags.withLock { $0.append(socket.recovered) }
                socket.on("join") { arguments, ack in
                    socket.join(arguments.compactMap(\.stringValue))
                    ack?.send([])
                }
            }
        }) { server in
            let (first, connect) = try await Self.join(server.port)
            guard let sid = connect["sid"]?.stringValue, let pid = connect["pid"]?.stringValue else {
                throw TestFailure("no sid/pid in \(connect)")
            }
            try await first.send(#"420["join","device:d1"]"#)
            #expect(try await first.receive() == .text("430[]"))
            server.io.to("device:d1").emit("reading", 1)
            guard case .text(let firstEvent) = try await first.receive(),
                case .array(let arguments) = try JSONParser().parse(firstEvent.dropFirst(2)),
                arguments.count == 3, arguments[1] == 1, let offset = arguments[2].stringValue
            else { throw TestFailure("no offset on the event") }

            // The transport drops; the server keeps broadcasting.
            first.close()
            try await eventually { server.io.mainNamespace.sockets.isEmpty }
            server.io.to("device:d1").emit("reading", 2)
            server.io.to("device:d2").emit("reading", 99)  // another room: not for this client
            server.io.to("device:d1").emit("reading", 3)
            server.io.emit("fleet", 4)  // the whole namespace
            server.io.to("device:d1").except("device:d1").emit("reading", 98)  // excluded

            let (second, reconnect) = try await Self.join(server.port, #"40{"pid":"\#(pid)","offset":"\#(offset)"}"#)
            defer { second.close() }
            #expect(reconnect["sid"]?.stringValue == sid)
            #expect(reconnect["pid"]?.stringValue == pid)
            server.io.to("device:d1").emit("reading", 5)  // live after recovery

            var values: [JSONValue] = []
            var offsets: [String] = []
            while values.count < 4 {
                guard case .text(let text) = try await second.receiveSkippingPings(),
                    case .array(let arguments) = try JSONParser().parse(text.dropFirst(2)), arguments.count == 3,
                    let eventOffset = arguments[2].stringValue
                else { throw TestFailure("unexpected packet") }
                values.append(arguments[1])
                offsets.append(eventOffset)
            }
            #expect(values == [2, 3, 4, 5])
            #expect(Set(offsets).count == offsets.count)
            #expect(server.io.mainNamespace.socket(id: sid)?.rooms == [sid, "device:d1"])
            // Nothing else (no duplicate) is queued: the next packet is a fresh emit.
            server.io.emit("marker")
            guard case .text(let marker) = try await second.receiveSkippingPings() else { throw TestFailure("closed") }
            #expect(marker.hasPrefix(#"42["marker","#))
        }
        #expect(recoveredFlags.withLock { $0 } == [false, true])
    }

    @Test func recoveryWithAnUnknownOffsetGivesAFreshSession() async throws {
        var configuration = Self.quietConfiguration()
        configuration.connectionStateRecovery = ConnectionStateRecovery()
        try await TestServer.with(configuration, setUp: { _ in }) { server in
            let (first, connect) = try await Self.join(server.port)
            guard let sid = connect["sid"]?.stringValue, let pid = connect["pid"]?.stringValue else {
                throw TestFailure("no pid")
            }
            first.close()
            try await eventually { server.io.mainNamespace.sockets.isEmpty }
            let (second, reconnect) = try await Self.join(server.port, #"40{"pid":"\#(pid)","offset":"nope"}"#)
            defer { second.close() }
            #expect(reconnect["sid"]?.stringValue != sid)
            #expect(reconnect["pid"]?.stringValue != pid)
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct CompressionNegotiationTests {
    static let offer = [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")]

    @Test func perMessageDeflateIsOffByDefault() async throws {
        try await TestServer.with { server in
            let socket = try await RawWebSocket.open(
                port: server.port, path: "/socket.io/?EIO=4&transport=websocket", headers: Self.offer)
            defer { socket.close() }
            #expect(!socket.responseHead.lowercased().contains("permessage-deflate"))
        }
    }

    @Test func perMessageDeflateIsNegotiatedWhenEnabled() async throws {
        var configuration = TestServer.relaxedConfiguration()
        configuration.engine.perMessageDeflate = PerMessageDeflateConfiguration(threshold: 1_024)
        try await TestServer.with(configuration) { server in
            let socket = try await RawWebSocket.open(
                port: server.port, path: "/socket.io/?EIO=4&transport=websocket", headers: Self.offer)
            defer { socket.close() }
            #expect(socket.responseHead.lowercased().contains("permessage-deflate"))
            // Small packets stay below the threshold and arrive uncompressed.
            guard case .text(let open) = try await socket.receive() else { throw TestFailure("closed") }
            #expect(open.hasPrefix("0{"))
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct DisconnectTests {
    @Test func serverSideDisconnectSendsADisconnectPacket() async throws {
        let reasons = ReasonLog()
        try await TestServer.with(TestServer.relaxedConfiguration(), setUp: { io in
            io.of("/") { socket in socket.onDisconnect { reasons.append($0) } }
        }) { server in
            let (client, connect) = try await ServerAPITests.join(server.port)
            defer { client.close() }
            guard let sid = connect["sid"]?.stringValue, let socket = server.io.mainNamespace.socket(id: sid) else {
                throw TestFailure("no socket")
            }
            socket.disconnect()
            #expect(try await client.receive() == .text("41"))
            #expect(server.io.mainNamespace.sockets.isEmpty)
            #expect(server.io.connectionCount == 1)  // the connection stays open
            #expect(reasons.values == [.serverNamespaceDisconnect])
            #expect(!socket.connected)
        }
    }

    @Test func closingTheServerDisconnectsEverySocket() async throws {
        let reasons = ReasonLog()
        try await TestServer.with(TestServer.relaxedConfiguration(), setUp: { io in
            io.of("/") { socket in socket.onDisconnect { reasons.append($0) } }
        }) { server in
            let (a, _) = try await ServerAPITests.join(server.port)
            let (b, _) = try await ServerAPITests.join(server.port)
            defer { [a, b].forEach { $0.close() } }
            server.io.close()
            try await a.waitForClose()
            try await b.waitForClose()
            #expect(reasons.values == [SocketIODisconnectReason("server shutting down"), SocketIODisconnectReason("server shutting down")])
            try await eventually { server.io.connectionCount == 0 }
        }
    }

    /// Once `run()` ended (graceful shutdown or cancellation), new connections are refused before
    /// any upgrade, although the HTTP server still runs (it stops after the Socket.IO server): a
    /// session opened then would never be closed (WebSockets outlive the application), and a
    /// client recovering in that moment stayed connected to a stopped hub (#6).
    @Test func aStoppedServerRefusesNewConnections() async throws {
        try await TestServer.with(TestServer.relaxedConfiguration(), setUp: { io in io.of("/") { _ in } }) { server in
            let (a, _) = try await ServerAPITests.join(server.port)
            defer { a.close() }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await server.io.run() }
                group.cancelAll()
            }
            try await a.waitForClose()
            let polling = try await RawHTTP.get(port: server.port, "/socket.io/?EIO=4&transport=polling")
            #expect(polling.status == 403)
            let (socket, status) = try await RawWebSocket.connect(
                port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
            socket?.close()
            // Refused upgrades are answered 400 by the WebSocket transport, whatever the reason.
            #expect(socket == nil && status == 400, "\(status)")
            try await eventually { server.io.connectionCount == 0 }
        }
    }

    @Test func clientTransportCloseIsReported() async throws {
        let reasons = ReasonLog()
        try await TestServer.with(TestServer.relaxedConfiguration(), setUp: { io in
            io.of("/") { socket in socket.onDisconnect { reasons.append($0) } }
        }) { server in
            let (client, _) = try await ServerAPITests.join(server.port)
            client.close()
            try await eventually { reasons.values == [SocketIODisconnectReason("transport close")] }
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ConnectRaceTests {
    @Test func aConnectionThatClosesDuringMiddlewareLeavesNothingBehind() async throws {
        let entered = Mutex(0)
        try await TestServer.with(TestServer.relaxedConfiguration(), setUp: { io in
            io.of("/").use { socket in
                entered.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(300))
                socket.join("late-room")
            }
        }) { server in
            let socket = try await RawWebSocket.open(port: server.port, path: "/socket.io/?EIO=4&transport=websocket")
            _ = try await socket.receive()
            try await socket.send("40")
            try await eventually { entered.withLock { $0 } == 1 }
            socket.close()
            try await eventually { server.io.connectionCount == 0 }
            try await Task.sleep(for: .milliseconds(400))  // let the middleware finish
            #expect(server.io.mainNamespace.sockets.isEmpty)
            #expect(server.io.mainNamespace.socketIDs(in: "late-room").isEmpty)
        }
    }
}
