import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore

extension EngineIOServer {
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
        // Refused before any upgrade (a plain HTTP error, which every client reports as a
        // connection error and retries); `makeSession` checks again, without a race.
        guard isAcceptingSessions else { return .failure(.forbidden) }
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
                if let capture = EngineUpgradeCapture.current {
                    // Routed by `EngineIOUpgradeChannel`: it serves the WebSocket itself.
                    capture.plan = EngineWebSocketPlan(server: self, handshake: handshake, session: session)
                    return Response(status: .ok)
                }
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

    func pollGet(_ session: EngineIOSession, request: Request) async -> Response {
        switch await session.poll() {
        case .success(let frames): return payloadResponse(frames, request: request)
        case .failure(let error): return errorResponse(error, request: request)
        }
    }

    func pollPost(_ session: EngineIOSession, request: Request) async -> Response {
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

    func corsHeaders(_ request: Request) -> HTTPFields {
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

    func corsPreflight(_ request: Request) -> Response {
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

    func errorResponse(_ error: EngineIOError, request: Request) -> Response {
        var headers = corsHeaders(request)
        headers[.contentType] = "application/json"
        return Response(status: error.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: error.body)))
    }

    func payloadResponse(_ frames: [EngineFrame], request: Request) -> Response {
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
}
