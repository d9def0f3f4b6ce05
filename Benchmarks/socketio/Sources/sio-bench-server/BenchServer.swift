// Benchmark server: `sio-bench-server PORT`. Socket.IO at /socket.io/ on 127.0.0.1:PORT.
// Events on "/": `join` (room name; ack "joined"), `blast` (count, payload: emits `tick` (i,
// payload) `count` times to the room "bench", each encoded once; ack "done").
// Same contract as ../../pyserver.py.
import Hummingbird
import HummingbirdWebSocket
import Logging
import ServiceLifecycle
import SocketIO

@main
struct BenchServer {
    static func main() async throws {
        let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 3100 : 3100
        var logger = Logger(label: "sio-bench-server")
        logger.logLevel = .warning

        var configuration = SocketIOConfiguration()
        configuration.engine.maxQueuedPackets = 100_000  // a blast queues up to `count` packets per client
        configuration.engine.maxQueuedBytes = 256 << 20
        configuration.engine.maxSessions = 200_000
        let io = SocketIOServer(configuration: configuration)
        io.of("/") { socket in
            socket.on("join") { arguments, ack in
                socket.join(arguments.first?.stringValue ?? "bench")
                ack?("joined")
            }
            socket.on("blast") { arguments, ack in
                let count = Int(arguments.first?.numberValue ?? 0)
                let payload = arguments.count > 1 ? arguments[1] : .null
                for index in 0..<count { io.to("bench").emit("tick", .number(Double(index)), payload) }
                ack?("done")
            }
        }

        let router = Router(context: BasicWebSocketRequestContext.self)
        io.mount(on: router)
        let app = Application(
            router: router,
            server: .socketIO(io, webSocketRouter: router),
            configuration: .init(address: .hostname("127.0.0.1", port: port)),
            logger: logger
        )
        let services = ServiceGroup(
            configuration: .init(
                services: [.init(service: app), .init(service: io)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await services.run()
    }
}
