import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// Why a socket left its namespace. Raw values are the reference server's reason strings.
public struct SocketIODisconnectReason: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The client left the namespace (`41`).
    public static let clientNamespaceDisconnect = SocketIODisconnectReason("client namespace disconnect")
    /// The server called `disconnect()`.
    public static let serverNamespaceDisconnect = SocketIODisconnectReason("server namespace disconnect")
    /// The server called `disconnect(closeConnection: true)`.
    public static let forcedServerClose = SocketIODisconnectReason("forced server close")

    init(_ engine: EngineIOCloseReason) { self.rawValue = engine.rawValue }

    /// Reasons after which connection state recovery may restore the socket (all but an
    /// explicit namespace disconnect by either side and a parse error).
    public var isRecoverable: Bool {
        ![Self.clientNamespaceDisconnect.rawValue, Self.serverNamespaceDisconnect.rawValue, "parse error"]
            .contains(rawValue)
    }

    public var description: String { rawValue }
}

/// What a client sent when it joined a namespace.
public struct SocketIOHandshake: Sendable {
    /// Headers of the Engine.IO opening request.
    public let headers: HTTPFields
    /// Query parameters of the opening request.
    public let query: [String: String]
    /// The opening request's URL (path and query).
    public let url: String
    /// The CONNECT payload (`{}` when the client sent none).
    public let auth: JSONValue
}

/// An acknowledgement callback for an event the client emitted with an ack id. Only the
/// first call sends anything.
public final class SocketIOAck: Sendable {
    let socket: SocketIOSocket
    let id: UInt64
    private let sent = NIOLockedValueBox(false)

    init(socket: SocketIOSocket, id: UInt64) {
        self.socket = socket
        self.id = id
    }

    /// Sends the acknowledgement with these arguments.
    public func callAsFunction(_ arguments: JSONValue...) { send(arguments) }

    /// Sends the acknowledgement with these arguments.
    public func send(_ arguments: [JSONValue]) {
        let first = sent.withLockedValue { sent -> Bool in
            defer { sent = true }
            return !sent
        }
        guard first else { return }
        socket.deliver(SocketIOCodec.encode(type: .ack, namespace: socket.namespace.name, id: id, data: .array(arguments)))
    }
}

/// Errors of `SocketIOSocket.emitWithAck`.
public struct SocketIOAckError: Error, Sendable, Hashable {
    /// Stable code: `timeout` or `disconnected`.
    public let code: String
    public static let timeout = SocketIOAckError(code: "timeout")
    public static let disconnected = SocketIOAckError(code: "disconnected")
}
