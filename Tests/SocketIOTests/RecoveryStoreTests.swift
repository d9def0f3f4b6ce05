import NIOConcurrencyHelpers
import SocketIO
import Synchronization
import Testing

/// A store backed by an external log (as the hub's Kafka store): it answers `replay(after:session:)`
/// itself, with packets and its own rule for live broadcasts held during the replay. The replay
/// waits until the test releases it, so that live broadcasts are certainly held meanwhile.
final class GatedLogStore: SocketIORecoveryStore {
    private let sessions = InMemoryRecoveryStore()
    private let gate = NIOLockedValueBox((entered: false, released: false, session: RecoverableSession?.none))
    let replayed: [RecoverablePacket]

    init(replayed: [RecoverablePacket]) {
        self.replayed = replayed
    }

    var entered: Bool { gate.withLockedValue { $0.entered } }
    var session: RecoverableSession? { gate.withLockedValue { $0.session } }
    func release() { gate.withLockedValue { $0.released = true } }

    func makeOffset() -> String { "unused" }
    func append(_ packet: RecoverablePacket) {}
    func save(_ session: RecoverableSession) { sessions.save(session) }
    func takeSession(pid: String) async -> RecoverableSession? { await sessions.takeSession(pid: pid) }
    func packets(after offset: String, namespace: String) async -> [RecoverablePacket]? { nil }

    func replay(after offset: String, session: RecoverableSession) async -> RecoveryReplay? {
        gate.withLockedValue {
            $0.entered = true
            $0.session = session
        }
        while !gate.withLockedValue({ $0.released }) { try? await Task.sleep(for: .milliseconds(5)) }
        // The log's rule: a live broadcast whose offset starts with "covered-" is in the replay.
        return RecoveryReplay(packets: replayed) { $0.hasPrefix("covered-") }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct RecoveryStoreTests {
    @Test func aStoreWithItsOwnReplayRuleSplicesLiveBroadcastsWithoutGapOrDuplicate() async throws {
        let store = GatedLogStore(replayed: [
            RecoverablePacket(
                namespace: "/", rooms: ["device:d1"], except: [], event: "reading", arguments: [2], offset: "log-2"),
            RecoverablePacket(
                namespace: "/", rooms: ["device:d2"], except: [], event: "reading", arguments: [99], offset: "log-99"),
            RecoverablePacket(
                namespace: "/", rooms: ["device:d1"], except: [], event: "reading", arguments: [3], offset: "log-3"),
        ])
        var configuration = ServerAPITests.quietConfiguration()
        configuration.connectionStateRecovery = ConnectionStateRecovery(store: store)
        try await TestServer.with(
            configuration,
            setUp: { io in
                io.of("/") { socket in
                    socket.on("join") { arguments, ack in
                        socket.join(arguments.compactMap(\.stringValue))
                        ack?.send([])
                    }
                }
            }
        ) { server in
            let (first, connect) = try await ServerAPITests.join(server.port)
            guard let pid = connect["pid"]?.stringValue else { throw TestFailure("no pid in \(connect)") }
            try await first.send(#"420["join","device:d1"]"#)
            #expect(try await first.receive() == .text("430[]"))
            server.io.to("device:d1").emit("reading", 1, offset: "log-1")
            #expect(try await first.receiveSkippingPings() == .text(#"42["reading",1,"log-1"]"#))
            first.close()
            try await eventually { server.io.mainNamespace.sockets.isEmpty }

            async let rejoined = ServerAPITests.join(server.port, #"40{"pid":"\#(pid)","offset":"log-1"}"#)
            try await eventually { store.entered }
            #expect(store.session?.rooms == ["device:d1"])
            // Live while the replay is read: held; the first is covered by the replay, the second not.
            server.io.to("device:d1").emit("reading", 3, offset: "covered-3")
            server.io.to("device:d1").emit("reading", 4, offset: "log-4")
            store.release()
            let (second, reconnect) = try await rejoined
            defer { second.close() }
            #expect(reconnect["pid"]?.stringValue == pid)
            server.io.to("device:d1").emit("reading", 5, offset: "log-5")
            var received: [String] = []
            while received.count < 4 {
                guard case .text(let text) = try await second.receiveSkippingPings() else {
                    throw TestFailure("closed")
                }
                received.append(text)
            }
            #expect(
                received == [
                    #"42["reading",2,"log-2"]"#, #"42["reading",3,"log-3"]"#, #"42["reading",4,"log-4"]"#,
                    #"42["reading",5,"log-5"]"#,
                ])
            server.io.emit("marker")
            guard case .text(let marker) = try await second.receiveSkippingPings() else { throw TestFailure("closed") }
            #expect(marker.hasPrefix(#"42["marker","#), "nothing else was queued: \(marker)")
        }
    }
}
