import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import SocketIO

/// Runs a Hummingbird application with a Socket.IO server at `/socket.io/` and an Engine.IO
/// echo server at `/engine.io/` on a free loopback port, for the duration of `body`.
enum TestServer {
    struct Running: Sendable {
        let port: Int
        let io: SocketIOServer
        let echo: EngineIOServer
    }

    /// The suites' settings: ping 300/200 ms, maxPayload 1e6, connect timeout 1 s, CORS `*`.
    static func conformanceConfiguration() -> SocketIOConfiguration {
        var configuration = SocketIOConfiguration()
        configuration.engine.pingInterval = .milliseconds(300)
        configuration.engine.pingTimeout = .milliseconds(200)
        configuration.engine.maxPayload = 1_000_000
        configuration.engine.cors = CORSConfiguration(allowOrigin: "*")
        configuration.connectTimeout = .milliseconds(1000)
        return configuration
    }

    /// Like the suites' settings but with a 10 s heartbeat and connect timeout, so that tests of
    /// other behaviour do not race those timers on a loaded machine.
    static func relaxedConfiguration() -> SocketIOConfiguration {
        var configuration = conformanceConfiguration()
        configuration.engine.pingInterval = .seconds(10)
        configuration.engine.pingTimeout = .seconds(10)
        configuration.connectTimeout = .seconds(10)
        return configuration
    }

    /// The conformance behaviours: `auth` echoed on connect, `message` -> `message-back`,
    /// `message-with-ack` acknowledged with its arguments, on `/` and `/custom`.
    static func installConformanceHandlers(_ io: SocketIOServer) {
        let handler: SocketIOConnectionHandler = { socket in
            socket.emit("auth", socket.handshake.auth)
            socket.on("message") { arguments, _ in socket.emit("message-back", arguments) }
            socket.on("message-with-ack") { arguments, ack in ack?.send(arguments) }
        }
        io.of("/", onConnection: handler)
        io.of("/custom", onConnection: handler)
    }

    static func with<T: Sendable>(
        _ configuration: SocketIOConfiguration = relaxedConfiguration(),
        setUp: @Sendable (SocketIOServer) -> Void = installConformanceHandlers,
        timeout: Duration = .seconds(20),
        routes: @Sendable (Router<BasicWebSocketRequestContext>) -> Void = { _ in },
        _ body: @escaping @Sendable (Running) async throws -> T
    ) async throws -> T {
        let io = SocketIOServer(configuration: configuration)
        setUp(io)
        let echo = EngineIOServer(
            configuration: configuration.engine,
            handlers: EngineIOHandlers(received: { session, message in session.send(message) }))
        let router = Router(context: BasicWebSocketRequestContext.self)
        echo.mount(on: router, at: "/engine.io")
        io.mount(on: router)
        routes(router)
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        var logger = Logger(label: "SocketIOTests")
        logger.logLevel = .critical  // cancellation at the end of each test logs at error level
        let app = Application(
            router: router,
            server: .socketIO(io, webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger
        )
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw TestFailure("server did not start") }
            group.addTask {
                try await withTimeout(timeout) { try await body(Running(port: port, io: io, echo: echo)) }
            }
            defer {
                io.close()
                echo.closeAll()
                group.cancelAll()
            }
            while let result = try await group.next() {
                if let value = result { return value }
            }
            throw TestFailure("server stopped")
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body`, failing with `TestFailure` after `duration`.
func withTimeout<T: Sendable>(_ duration: Duration, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: duration)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestFailure("timed out after \(duration)")
        }
        return value
    }
}
