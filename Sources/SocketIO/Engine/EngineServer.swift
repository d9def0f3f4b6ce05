import HTTPTypes
import Hummingbird
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOWebSocket

/// Callbacks from an `EngineIOServer` to the layer above it.
public struct EngineIOHandlers: Sendable {
    /// A session opened (before any message of it is delivered).
    public var opened: @Sendable (EngineIOSession) -> Void
    /// A message arrived. Messages of one session are delivered one at a time, in order.
    /// Throwing closes the session with reason `parse error`.
    public var received: @Sendable (EngineIOSession, EngineIOMessage) async throws -> Void
    /// A session closed; called exactly once per session.
    public var closed: @Sendable (EngineIOSession, EngineIOCloseReason) -> Void

    public init(
        opened: @escaping @Sendable (EngineIOSession) -> Void = { _ in },
        received: @escaping @Sendable (EngineIOSession, EngineIOMessage) async throws -> Void,
        closed: @escaping @Sendable (EngineIOSession, EngineIOCloseReason) -> Void = { _, _ in }
    ) {
        self.opened = opened
        self.received = received
        self.closed = closed
    }
}

/// An Engine.IO v4 server: HTTP long-polling and WebSocket on one Hummingbird router path.
public final class EngineIOServer: Sendable {
    /// The settings the server was created with.
    public let configuration: EngineIOConfiguration
    let handlers: EngineIOHandlers
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    private let sessions = NIOLockedValueBox([String: EngineIOSession]())
    private let webSocketIDs = NIOLockedValueBox(0)

    /// Creates a server. Timers run on `eventLoopGroup` (default: NIO's shared group).
    public init(
        configuration: EngineIOConfiguration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "EngineIO"),
        handlers: EngineIOHandlers
    ) {
        self.configuration = configuration
        self.handlers = handlers
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    /// Open sessions right now.
    public var sessionCount: Int { sessions.withLockedValue { $0.count } }

    /// The open session with this id.
    public func session(id: String) -> EngineIOSession? {
        sessions.withLockedValue { $0[id] }
    }

    /// Closes every session (reason `server shutting down`).
    public func closeAll() {
        let all = sessions.withLockedValue { Array($0.values) }
        for session in all { session.close(reason: .serverShuttingDown) }
    }

    /// The WebSocket settings this server needs from the application's HTTP server builder:
    /// frames up to `maxPayload`, no automatic pings (Engine.IO has its own heartbeat), and
    /// permessage-deflate when configured. Use it as
    /// `.http1WebSocketUpgrade(webSocketRouter: router, configuration: server.webSocketUpgradeConfiguration)`.
    public var webSocketUpgradeConfiguration: HTTP1WebSocketUpgradeChannel.Configuration {
        var extensions: [WebSocketExtensionFactory] = []
        if let deflate = configuration.perMessageDeflate {
            extensions.append(
                .perMessageDeflate(
                    noContextTakeover: deflate.noContextTakeover,
                    maxDecompressedFrameSize: configuration.maxPayload,
                    minFrameSizeToCompress: deflate.threshold
                ))
        }
        return .init(
            ws: .init(
                maxFrameSize: configuration.maxPayload,
                extensions: extensions,
                autoPing: .disabled,
                closeTimeout: .seconds(5)
            )
        )
    }

    /// Adds the Engine.IO endpoint at `path` (for example `"/engine.io"`) to `router`. The same
    /// router must also be the application's `webSocketRouter` for the WebSocket transport.
    public func mount<Context: WebSocketRequestContext & RequestContext>(on router: Router<Context>, at path: String) {
        let routerPath = RouterPath(path)
        for method in [HTTPRequest.Method.get, .post, .put, .delete, .patch, .options, .head] {
            router.on(routerPath, method: method) { request, context in
                await self.respond(to: request, context: context)
            }
        }
    }

    // MARK: - Sessions

    func sessionClosed(_ session: EngineIOSession, reason: EngineIOCloseReason) {
        sessions.withLockedValue { _ = $0.removeValue(forKey: session.id) }
        logger.debug("session closed", metadata: ["sid": "\(session.id)", "reason": "\(reason)"])
        handlers.closed(session, reason)
    }

    private func nextWebSocketID() -> Int {
        webSocketIDs.withLockedValue {
            $0 += 1
            return $0
        }
    }

    private func makeSession(handshake: EngineIOHandshake, webSocketID: Int?) -> EngineIOSession? {
        var id = ""
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for _ in 0..<20 { id.append(alphabet[Int(generator.next() % 64)]) }
        let session = EngineIOSession(
            id: id, handshake: handshake, configuration: configuration,
            eventLoop: eventLoopGroup.any(), owner: self, webSocketID: webSocketID
        )
        let added = sessions.withLockedValue { sessions -> Bool in
            guard sessions.count < configuration.maxSessions else { return false }
            sessions[id] = session
            return true
        }
        return added ? session : nil
    }

    func openPacket(for session: EngineIOSession, upgrades: [String]) -> EngineFrame {
        let upgradeList = upgrades.map { "\"\($0)\"" }.joined(separator: ",")
        let json =
            "{\"sid\":\"\(session.id)\",\"upgrades\":[\(upgradeList)],\"pingInterval\":\(configuration.pingInterval.milliseconds),"
            + "\"pingTimeout\":\(configuration.pingTimeout.milliseconds),\"maxPayload\":\(configuration.maxPayload)}"
        return .control(.open, json)
    }

    // MARK: - HTTP

    struct Validated {
        var transport: EngineIOTransport
        var session: EngineIOSession?
        var query: [String: String]
    }

    /// Checks a request against the protocol rules; returns what to do or the error to send.
    func validate(_ request: Request, isUpgrade: Bool) -> Result<Validated, EngineIOError> {
        let origin = request.headers[.origin]
        guard configuration.allowedOrigins.allows(origin) else { return .failure(.forbidden) }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters where query[String(key)] == nil {
            query[String(key)] = String(value)
        }
        let transport: EngineIOTransport
        switch query["transport"] {
        case "polling" where configuration.allowPolling: transport = .polling
        case "websocket" where configuration.allowWebSocket: transport = .websocket
        default: return .failure(.unknownTransport)
        }
        if transport == .websocket && !isUpgrade { return .failure(.badRequest) }
        guard query["EIO"] == "4" else { return .failure(.unsupportedProtocolVersion) }
        if let sid = query["sid"] {
            guard let session = session(id: sid) else { return .failure(.unknownSessionID) }
            // A WebSocket for a session that cannot upgrade (any more) is accepted and then
            // closed, as the reference server does.
            if transport == .polling && session.transport != .polling {
                return .failure(.badRequest)
            }
            return .success(Validated(transport: transport, session: session, query: query))
        }
        guard request.method == .get else { return .failure(.badHandshakeMethod) }
        return .success(Validated(transport: transport, session: nil, query: query))
    }

    func respond<Context: WebSocketRequestContext>(to request: Request, context: Context) async -> Response {
        let isUpgrade = request.method == .get && request.headers[.upgrade]?.lowercased() == "websocket"
        if request.method == .options { return corsPreflight(request) }
        switch validate(request, isUpgrade: isUpgrade) {
        case .failure(let error):
            return errorResponse(error, request: request)
        case .success(let validated):
            switch validated.transport {
            case .websocket:
                let handshake = EngineIOHandshake(
                    headers: request.headers, query: validated.query, url: request.uri.string, transport: .websocket)
                let session = validated.session
                // Hand the connection to the WebSocket upgrade (the middleware records the handler
                // in the request context, which the upgrade channel then runs).
                let upgrade = WebSocketUpgradeMiddleware<Context>(shouldUpgrade: { _, _ in .upgrade([:]) }) {
                    inbound, outbound, _ in
                    await self.runWebSocket(inbound: inbound, outbound: outbound, handshake: handshake, session: session)
                }
                return (try? await upgrade.handle(request, context: context) { _, _ in Response(status: .notFound) })
                    ?? errorResponse(.badRequest, request: request)
            case .polling:
                if let session = validated.session {
                    return request.method == .get
                        ? await pollGet(session, request: request)
                        : await pollPost(session, request: request)
                }
                let handshake = EngineIOHandshake(
                    headers: request.headers, query: validated.query, url: request.uri.string, transport: .polling)
                guard let session = makeSession(handshake: handshake, webSocketID: nil) else {
                    return errorResponse(.forbidden, request: request)
                }
                let open = openPacket(for: session, upgrades: configuration.allowWebSocket ? ["websocket"] : [])
                session.startHeartbeat()
                handlers.opened(session)
                return payloadResponse([open], request: request)
            }
        }
    }

    private func pollGet(_ session: EngineIOSession, request: Request) async -> Response {
        switch await session.poll() {
        case .success(let frames): return payloadResponse(frames, request: request)
        case .failure(let error): return errorResponse(error, request: request)
        }
    }

    private func pollPost(_ session: EngineIOSession, request: Request) async -> Response {
        if let error = session.beginPost() { return errorResponse(error, request: request) }
        defer { session.endPost() }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxPayload)
        } catch {
            session.close(reason: .parseError)
            var response = errorResponse(.badRequest, request: request)
            response.status = .contentTooLarge
            return response
        }
        let packets: [EngineInbound]
        do {
            packets = try EngineCodec.decodePayload(body, maxPackets: configuration.maxPacketsPerPayload)
        } catch {
            session.close(reason: .parseError)
            return errorResponse(.badRequest, request: request)
        }
        for packet in packets {
            if session.isClosed { break }
            do {
                try await session.receive(packet)
            } catch {
                session.close(reason: .parseError)
                return errorResponse(.badRequest, request: request)
            }
        }
        var headers = corsHeaders(request)
        headers[.contentType] = "text/html"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "ok")))
    }

    private func corsHeaders(_ request: Request) -> HTTPFields {
        var headers = HTTPFields()
        guard let cors = configuration.cors else { return headers }
        let origin = request.headers[.origin]
        if let allow = cors.allowOrigin {
            headers[.accessControlAllowOrigin] = allow
        } else if let origin {
            headers[.accessControlAllowOrigin] = origin
            headers[.vary] = "Origin"
        }
        if cors.allowCredentials { headers[.accessControlAllowCredentials] = "true" }
        return headers
    }

    private func corsPreflight(_ request: Request) -> Response {
        guard configuration.allowedOrigins.allows(request.headers[.origin]) else {
            return errorResponse(.forbidden, request: request)
        }
        var headers = corsHeaders(request)
        headers[.accessControlAllowMethods] = "GET,HEAD,PUT,PATCH,POST,DELETE"
        if let requested = request.headers[.accessControlRequestHeaders] {
            headers[.accessControlAllowHeaders] = requested
        }
        headers[.contentLength] = "0"
        return Response(status: .noContent, headers: headers)
    }

    private func errorResponse(_ error: EngineIOError, request: Request) -> Response {
        var headers = corsHeaders(request)
        headers[.contentType] = "application/json"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.body)))
    }

    private func payloadResponse(_ frames: [EngineFrame], request: Request) -> Response {
        var headers = corsHeaders(request)
        headers[.contentType] = "text/plain; charset=UTF-8"
        var body = EngineCodec.encodePayload(frames)
        if configuration.httpCompression, body.readableBytes >= configuration.httpCompressionThreshold,
            let encoding = HTTPCompression.negotiate(acceptEncoding: request.headers[.acceptEncoding]),
            let compressed = encoding.compress(body)
        {
            body = compressed
            headers[.contentEncoding] = encoding.rawValue
            headers[.vary] = "Accept-Encoding"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    // MARK: - WebSocket

    func runWebSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, handshake: EngineIOHandshake,
        session existing: EngineIOSession?
    ) async {
        let webSocketID = nextWebSocketID()
        let session: EngineIOSession
        if let existing {
            guard existing.beginProbe(webSocketID: webSocketID) else {
                try? await outbound.close(.policyViolation, reason: "Bad request")
                return
            }
            session = existing
        } else {
            guard let created = makeSession(handshake: handshake, webSocketID: webSocketID) else {
                try? await outbound.close(.policyViolation, reason: "Forbidden")
                return
            }
            session = created
            session.enqueue([openPacket(for: session, upgrades: [])])
            session.startHeartbeat()
            handlers.opened(session)
        }
        enum Finished { case reader, writer, upgradeTimer }
        let upgradeTimeout = configuration.upgradeTimeout
        await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                await self.readLoop(session, webSocketID: webSocketID, inbound: inbound, outbound: outbound)
                return .reader
            }
            group.addTask {
                await self.writeLoop(session, webSocketID: webSocketID, outbound: outbound)
                return .writer
            }
            if existing != nil {
                group.addTask {
                    try? await Task.sleep(for: upgradeTimeout)
                    return .upgradeTimer
                }
            }
            while let finished = await group.next() {
                // The upgrade timer only ends the WebSocket if the upgrade is still pending.
                if finished == .upgradeTimer && !session.isProbing(webSocketID: webSocketID) { continue }
                break
            }
            group.cancelAll()
        }
        session.webSocketEnded(webSocketID: webSocketID)
        try? await outbound.close(.normalClosure, reason: nil)
    }

    private func readLoop(
        _ session: EngineIOSession, webSocketID: Int, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async {
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        do {
            // Upgrade probe phase: only `2probe`, `5` and noops are allowed.
            while session.isProbing(webSocketID: webSocketID) {
                guard case .text(let text)? = try await messages.next() else { return }
                if text == "2probe" {
                    guard session.probeReceived(webSocketID: webSocketID) else { return }
                    try await outbound.write(.text("3probe"))
                } else if text == "5" {
                    guard session.completeUpgrade(webSocketID: webSocketID) else { return }
                } else if text != "6" {
                    return
                }
            }
            while let message = try await messages.next() {
                let packet: EngineInbound
                switch message {
                case .text(let text):
                    do {
                        packet = try EngineCodec.decode(text: Substring(text))
                    } catch {
                        session.close(reason: .parseError)
                        return
                    }
                case .binary(let buffer):
                    packet = .message(.binary(buffer))
                }
                do {
                    try await session.receive(packet)
                } catch {
                    session.close(reason: .parseError)
                    return
                }
                if session.isClosed { return }
            }
        } catch {
            // Oversized or malformed frames, or a broken connection, end the WebSocket
            // (reason `transport error`, as the reference server reports them).
            logger.debug("websocket read failed", metadata: ["sid": "\(session.id)", "error": "\(error)"])
            if !session.isProbing(webSocketID: webSocketID) { session.close(reason: .transportError) }
        }
    }

    private func writeLoop(_ session: EngineIOSession, webSocketID: Int, outbound: WebSocketOutboundWriter) async {
        while let frames = await session.nextFrames(webSocketID: webSocketID) {
            do {
                for (index, frame) in frames.enumerated() {
                    // One packet per flush, like the reference server's one-write-in-flight
                    // transport: let the previous write reach the socket first.
                    if index > 0 { await Task.yield() }
                    switch frame {
                    case .text(let buffer):
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: buffer)))
                    case .binary(let buffer):
                        try await outbound.write(.binary(buffer))
                    }
                }
            } catch {
                session.close(reason: .transportError)
                return
            }
        }
    }
}
