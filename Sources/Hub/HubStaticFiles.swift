import Foundation
import Hummingbird

/// Serves the dashboards and the vendored Socket.IO browser client (hub-api.md 2).
///
/// Only plain relative paths are served: every path segment must be `[A-Za-z0-9._-]`, not start
/// with a dot (so no `..`), and the first segment must not be `dev` or `test`.
struct HubStaticFiles: Sendable {
    let dashboardsDirectory: String
    let vendorDirectory: String
    let fileIO = FileIO()

    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "mjs": "text/javascript; charset=utf-8", "svg": "image/svg+xml", "json": "application/json; charset=utf-8",
        "png": "image/png", "ico": "image/x-icon", "map": "application/json; charset=utf-8", "txt": "text/plain; charset=utf-8",
        "woff2": "font/woff2",
    ]

    static let hiddenFolders: Set<Substring> = ["dev", "test"]

    /// The safe relative path for a URL path, or nil when it must not be served.
    static func relativePath(forURLPath urlPath: String) -> String? {
        guard let decoded = urlPath.removingPercentEncoding else { return nil }
        var segments = decoded.split(separator: "/", omittingEmptySubsequences: false)
        if segments.first == "" { segments.removeFirst() }
        if segments.isEmpty || segments == [""] { return "index.html" }
        guard segments.count <= 8, !hiddenFolders.contains(segments[0]) else { return nil }
        for segment in segments {
            guard !segment.isEmpty, segment.count <= 128, segment.first != ".",
                segment.utf8.allSatisfy({ byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                        || byte == 0x2E || byte == 0x5F || byte == 0x2D
                })
            else { return nil }
        }
        return segments.joined(separator: "/")
    }

    static func contentType(of path: String) -> String {
        let ext = path.split(separator: ".").last.map { String($0).lowercased() } ?? ""
        return contentTypes[ext] ?? "application/octet-stream"
    }

    func dashboardFile(_ request: Request, context: some RequestContext) async throws -> Response {
        guard let relative = Self.relativePath(forURLPath: request.uri.path) else {
            return HubAPIResponses.error(.notFound, "not-found", "no such file")
        }
        return try await serve(path: dashboardsDirectory + "/" + relative, context: context) {
            HubAPIResponses.error(.notFound, "not-found", "no such file: /\(relative)")
        }
    }

    func socketIOClient(context: some RequestContext) async throws -> Response {
        let path = vendorDirectory + "/socket.io/socket.io.min.js"
        return try await serve(path: path, context: context) {
            Response(
                status: .notFound,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string:
                    "socket.io.min.js is missing at \(path): run `bash scripts/bootstrap.sh` in the repository "
                        + "(or pass --vendor-dir), then reload.\n")))
        }
    }

    private func serve(path: String, context: some RequestContext, missing: () -> Response) async throws -> Response {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            return missing()
        }
        let body = try await fileIO.loadFile(path: path, context: context)
        return Response(
            status: .ok, headers: [.contentType: Self.contentType(of: path), .cacheControl: "no-cache"], body: body)
    }
}
