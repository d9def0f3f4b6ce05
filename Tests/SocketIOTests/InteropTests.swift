import FluxgateTesting
import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import SocketIO
import Synchronization
import Testing

/// The repository root, found from this file's path (Tests/SocketIOTests/InteropTests.swift).
private let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// Interoperability with real third-party clients: python-socketio's AsyncClient (three transport
/// modes) and the official JavaScript client in headless Chromium, against an in-process server.
@Suite(.serialized)
struct InteropTests {
    /// The checks `Clients/interop_client.py` must report, all passing.
    static let pythonChecks: Set<String> = [
        "connect", "transport", "auth /", "auth /custom", "ack client->server /", "ack client->server /custom",
        "binary ack", "binary from server", "ack server->client", "join", "room broadcast",
        "room broadcast per namespace", "server disconnect", "reconnect", "rooms reset after reconnect",
        "client disconnect",
    ]

    @Test("python-socketio AsyncClient", arguments: ["websocket", "polling", "upgrade"])
    func pythonClient(transport: String) async throws {
        let python = repositoryRoot + "/.venv/bin/python"
        let script = repositoryRoot + "/Tests/SocketIOTests/Clients/interop_client.py"
        let (questions, continuation) = AsyncStream<SocketIOSocket>.makeStream()
        try await TestServer.with(setUp: { InteropServer.install($0, questions: continuation) }, timeout: .seconds(100)) {
            server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await InteropServer.answerQuestions(questions) }
                defer { group.cancelAll() }
                let client = try ChildProcess.spawn(
                    python, arguments: ["-u", script, "http://127.0.0.1:\(server.port)", "--transport", transport])
                let status: Int32
                do {
                    status = try await client.waitForExit(timeout: .seconds(90))
                } catch {
                    _ = try? await client.stop(grace: .seconds(2))
                    throw error
                }
                let lines = client.outputLines
                let context = Comment(rawValue: (lines + client.errorLines.suffix(20)).joined(separator: "\n"))
                #expect(status == 0, context)
                let objects = lines.compactMap { line in
                    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
                }
                var seen: Set<String> = []
                for object in objects {
                    guard let name = object["check"] as? String else { continue }
                    seen.insert(name)
                    #expect(object["ok"] as? Bool == true, "\(transport): \(name) failed: \(object)")
                }
                #expect(seen == Self.pythonChecks, context)
                #expect(objects.last?["done"] as? Bool == true && objects.last?["failed"] as? Int == 0, context)
                // Every session the client opened is gone once it has disconnected.
                try await waitUntil(10, "sessions closed") { server.io.connectionCount == 0 }
            }
        }
        continuation.finish()
    }

    @Test("socket.io JavaScript client 4.8.1 in headless Chromium")
    func chromium() async throws {
        let chromium = "/usr/bin/chromium"
        let (questions, continuation) = AsyncStream<SocketIOSocket>.makeStream()
        let page = try String(contentsOfFile: repositoryRoot + "/Tests/SocketIOTests/Clients/interop_page.html", encoding: .utf8)
        let library = try Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/vendor/socket.io/socket.io.min.js"))
        let posted = PostedResult()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("sioi-chromium-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: profile) }
        try await TestServer.with(
            setUp: { InteropServer.install($0, questions: continuation) },
            timeout: .seconds(100),
            routes: { router in InteropServer.pageRoutes(router, page: page, library: library, posted: posted) }
        ) { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await InteropServer.answerQuestions(questions) }
                defer { group.cancelAll() }
                let browser = try ChildProcess.spawn(
                    chromium,
                    arguments: [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                        "--dump-dom", "http://127.0.0.1:\(server.port)/interop/index.html",
                    ])
                let status: Int32
                do {
                    status = try await browser.waitForExit(timeout: .seconds(90))
                } catch {
                    _ = try? await browser.stop(grace: .seconds(5))
                    throw error
                }
                let dom = browser.outputLines.joined(separator: "\n")
                #expect(status == 0, Comment(rawValue: browser.errorLines.suffix(20).joined(separator: "\n")))
                let results = try #require(Self.results(in: dom), Comment(rawValue: dom))
                #expect(results["error"] == nil, "page error: \(results)")
                #expect(results["connected"] as? Bool == true)
                #expect(results["firstTransport"] as? String == "polling")
                #expect(results["upgradedTo"] as? String == "websocket")
                #expect(results["transport"] as? String == "websocket", "upgraded to websocket")
                #expect(results["auth"] as? NSDictionary == ["token": "browser", "n": 2] as NSDictionary)
                #expect(results["echo"] as? NSDictionary == ["x": 1, "s": "h\u{e9}llo"] as NSDictionary)
                #expect(results["binaryEcho"] as? [Int] == [0, 1, 2, 255])
                #expect(results["binaryFromServer"] as? NSArray == [[0, 1, 2, 255], "tag"] as NSArray)
                #expect(results["answerWas"] as? NSDictionary == ["answer": 42, "question": ["what is 6*7?"]] as NSDictionary)
                #expect(results["joined"] as? String == "joined")
                #expect(results["broadcast"] as? String == "sent")
                #expect(results["roomMessage"] as? NSDictionary == ["hello": "room"] as NSDictionary)
                #expect(results["customAuth"] as? NSDictionary == ["token": "custom"] as NSDictionary)
                #expect(results["customEcho"] as? String == "on custom")
                #expect(results["disconnected"] as? Bool == true)
                // The page also POSTed the same results to the server.
                #expect(posted.value.map { Self.object($0) as NSDictionary? } == results as NSDictionary?)
                try await waitUntil(10, "sessions closed") { server.io.connectionCount == 0 }
            }
        }
        continuation.finish()
    }

    /// The JSON object written into `<pre id="result">` of the dumped DOM.
    static func results(in dom: String) -> [String: Any]? {
        guard let start = dom.range(of: "<pre id=\"result\">"), let end = dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex)
        else { return nil }
        let text = String(dom[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        return object(text)
    }

    static func object(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}

/// The body the page POSTed to `/interop/done`, once it has.
final class PostedResult: Sendable {
    private let state = Mutex<String?>(nil)
    var value: String? { state.withLock { $0 } }
    func set(_ text: String) { state.withLock { $0 = text } }
}

/// The interop server's namespaces and the browser page's routes.
enum InteropServer {
    /// On `/` and `/custom`: `auth` echo on connect, `echo` (ack with the arguments), `binary`
    /// (emits `binary-back` with bytes 00 01 02 ff and the arguments), `join` (room), `broadcast`
    /// (room, payload -> `room-message` to the room), `ask` (hands the socket to
    /// `answerQuestions`, which calls `question` with an ack), `kick` (server-side disconnect of the whole connection).
    static func install(_ io: SocketIOServer, questions: AsyncStream<SocketIOSocket>.Continuation) {
        for name in ["/", "/custom"] {
            let namespace = io.of(name)
            namespace.onConnection { socket in
                socket.emit("auth", socket.handshake.auth)
                socket.on("echo") { arguments, ack in ack?.send(arguments) }
                socket.on("binary") { arguments, _ in
                    socket.emit("binary-back", [.binary(ByteBuffer(bytes: [0, 1, 2, 0xff]))] + arguments)
                }
                socket.on("join") { arguments, ack in
                    if let room = arguments.first?.stringValue { socket.join(room) }
                    ack?("joined")
                }
                socket.on("broadcast") { arguments, ack in
                    guard arguments.count == 2, let room = arguments[0].stringValue else {
                        ack?("bad arguments")
                        return
                    }
                    namespace.to(room).emit("room-message", arguments[1])
                    ack?("sent")
                }
                socket.on("ask") { _, ack in
                    questions.yield(socket)
                    ack?("ok")
                }
                socket.on("kick") { _, _ in socket.disconnect(closeConnection: true) }
            }
        }
    }

    /// Server -> client acks: for each socket that asked, `emitWithAck("question")`, then
    /// `answer-was` with the answer. Runs outside the sockets' handlers (which must not await
    /// their own socket's acks).
    static func answerQuestions(_ questions: AsyncStream<SocketIOSocket>) async throws {
        for await socket in questions {
            let answer = try await socket.emitWithAck("question", ["what is 6*7?"], timeout: .seconds(10))
            socket.emit("answer-was", answer)
        }
    }

    /// `/interop/index.html`, `/interop/socket.io.min.js`, `/interop/done` (POST, the results)
    /// and `/interop/hold` (answers once the results are posted, at most after 60 s).
    static func pageRoutes(_ router: Router<BasicWebSocketRequestContext>, page: String, library: Data, posted: PostedResult) {
        router.get("/interop/index.html") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: page)))
        }
        router.get("/interop/socket.io.min.js") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/javascript"],
                body: .init(byteBuffer: ByteBuffer(bytes: library)))
        }
        router.post("/interop/done") { request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1_000_000)
            posted.set(String(buffer: body))
            return .ok
        }
        router.get("/interop/hold") { _, _ -> String in
            let deadline = ContinuousClock.now + .seconds(60)
            while posted.value == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            return "ok"
        }
    }
}
