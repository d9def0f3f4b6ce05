// socketio-conformance: the server the official Engine.IO and Socket.IO protocol test suites
// expect on localhost:3000 — a plain Engine.IO echo server at /engine.io/ and a Socket.IO
// server at /socket.io/ (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1e6, connect
// timeout 1000 ms, CORS *).
//
// Usage: socketio-conformance [--host localhost] [--port 3000] [--per-message-deflate]
import Hummingbird
import HummingbirdWebSocket
import Logging
import SocketIO

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

var host = "localhost"
var port = 3000
var perMessageDeflate = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port":
        guard let value = arguments.next(), let parsed = Int(value), (0...65535).contains(parsed) else {
            print("socketio-conformance: --port needs a number between 0 and 65535")
            exit(2)
        }
        port = parsed
    case "--host":
        guard let value = arguments.next() else {
            print("socketio-conformance: --host needs a value")
            exit(2)
        }
        host = value
    case "--per-message-deflate":
        perMessageDeflate = true
    case "--help", "-h":
        print("usage: socketio-conformance [--host localhost] [--port 3000] [--per-message-deflate]")
        exit(0)
    default:
        print("socketio-conformance: unknown argument \(argument); see --help")
        exit(2)
    }
}

var engineConfiguration = EngineIOConfiguration()
engineConfiguration.pingInterval = .milliseconds(300)
engineConfiguration.pingTimeout = .milliseconds(200)
engineConfiguration.maxPayload = 1_000_000
engineConfiguration.cors = CORSConfiguration(allowOrigin: "*")
if perMessageDeflate { engineConfiguration.perMessageDeflate = PerMessageDeflateConfiguration() }

// Engine.IO: echo every message back.
let echo = EngineIOServer(
    configuration: engineConfiguration,
    handlers: EngineIOHandlers(received: { session, message in session.send(message) })
)

// Socket.IO: the behaviours the socket.io-protocol test suite expects.
var configuration = SocketIOConfiguration()
configuration.engine = engineConfiguration
configuration.connectTimeout = .milliseconds(1000)
let io = SocketIOServer(configuration: configuration)
let onConnection: SocketIOConnectionHandler = { socket in
    // The suites read the CONNECT response and this event with two consecutive one-shot
    // listeners, so the two must not reach the client in one TCP read. The reference server
    // separates them by its one-write-in-flight transport; here a short pause does it.
    try? await Task.sleep(for: .milliseconds(20))
    socket.emit("auth", socket.handshake.auth)
    socket.on("message") { arguments, _ in
        socket.emit("message-back", arguments)
    }
    socket.on("message-with-ack") { arguments, ack in
        ack?.send(arguments)
    }
}
io.of("/", onConnection: onConnection)
io.of("/custom", onConnection: onConnection)

let router = Router(context: BasicWebSocketRequestContext.self)
echo.mount(on: router, at: "/engine.io")
io.mount(on: router)

var logger = Logger(label: "socketio-conformance")
logger.logLevel = .info
let app = Application(
    router: router,
    server: .socketIO(io, webSocketRouter: router),
    configuration: .init(address: .hostname(host, port: port)),
    logger: logger
)
try await app.runService()
