import Foundation
import Hummingbird

/// Counts HTTP requests by route (bounded label set) and status, and enforces the Origin
/// allow-list on the Socket.IO endpoint: a browser origin passes when it is the hub's own
/// (the request's `Host`) or listed in `allowedOrigins`; requests without `Origin`
/// (non-browser clients) pass.
struct HubRequestMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedOrigins: Set<String>
    let metrics: HubMetrics

    static func pathLabel(_ path: String) -> String {
        if path.hasPrefix("/socket.io/socket.io.min.js") { return "/socket.io/socket.io.min.js" }
        if path.hasPrefix("/socket.io") { return "/socket.io/" }
        if path.hasPrefix("/api/devices/") { return "/api/devices/{id}" }
        switch path {
        case "/api/devices", "/api/alerts", "/healthz", "/readyz", "/metrics": return path
        default: return path.hasPrefix("/api/") ? "/api/other" : "static"
        }
    }

    /// The `host[:port]` part of an origin such as `http://localhost:8080`.
    static func authority(ofOrigin origin: Substring) -> Substring? {
        guard let range = origin.range(of: "://") else { return nil }
        return origin[range.upperBound...]
    }

    func originAllowed(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        if allowedOrigins.contains(origin) { return true }
        guard let authority = Self.authority(ofOrigin: origin[...]), let host = request.head.authority
        else { return false }
        return authority.lowercased() == host.lowercased()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let label = Self.pathLabel(request.uri.path)
        if label == "/socket.io/", !originAllowed(request) {
            metrics.connectionRefused(reason: "origin-not-allowed")
            metrics.httpRequest(path: label, status: 403)
            return Response(
                status: .forbidden, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"code":4,"message":"Forbidden"}"#)))
        }
        do {
            let response = try await next(request, context)
            metrics.httpRequest(path: label, status: response.status.code)
            return response
        } catch let error as HTTPError {
            metrics.httpRequest(path: label, status: error.status.code)
            throw error
        }
    }
}
