import HTTPTypes
import Hummingbird

/// The Engine.IO error responses, as the reference server sends them
/// (`{"code":N,"message":"..."}` with HTTP 400, or 403 for `forbidden`).
public struct EngineIOError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable protocol code 0...5.
    public let code: Int
    /// The protocol's message text.
    public let message: String

    public static let unknownTransport = EngineIOError(code: 0, message: "Transport unknown")
    public static let unknownSessionID = EngineIOError(code: 1, message: "Session ID unknown")
    public static let badHandshakeMethod = EngineIOError(code: 2, message: "Bad handshake method")
    public static let badRequest = EngineIOError(code: 3, message: "Bad request")
    public static let forbidden = EngineIOError(code: 4, message: "Forbidden")
    public static let unsupportedProtocolVersion = EngineIOError(code: 5, message: "Unsupported protocol version")

    var status: HTTPResponse.Status { code == 4 ? .forbidden : .badRequest }
    var body: String { "{\"code\":\(code),\"message\":\"\(message)\"}" }

    public var description: String { "Engine.IO error \(code): \(message)" }
}
