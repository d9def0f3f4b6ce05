import NIOCore

/// Minimal RFC 6455 client for protocol tests: it sends whatever frames a test asks for,
/// including malformed or oversized ones.
final class RawWebSocket {
    enum Message: Equatable, CustomStringConvertible {
        case text(String)
        case binary([UInt8])
        /// The server sent a close frame or the connection ended.
        case closed

        var description: String {
            switch self {
            case .text(let text): return "text(\(text))"
            case .binary(let bytes): return "binary(\(bytes))"
            case .closed: return "closed"
            }
        }
    }

    let connection: RawConnection
    /// The server's 101 response head.
    let responseHead: String
    private(set) var isClosed = false

    private init(connection: RawConnection, responseHead: String) {
        self.connection = connection
        self.responseHead = responseHead
    }

    /// Opens a WebSocket; returns nil (with the HTTP status) when the server refuses the upgrade.
    static func connect(port: Int, path: String, headers: [(String, String)] = []) async throws
        -> (RawWebSocket?, status: Int)
    {
        let connection = try await RawConnection.connect(port: port)
        var request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await connection.write(request)
        let terminator = Array("\r\n\r\n".utf8)
        while connection.buffer.readableBytesView.firstRange(of: terminator) == nil {
            guard await connection.fill() else { break }
        }
        guard let end = connection.buffer.readableBytesView.firstRange(of: terminator) else {
            connection.close()
            return (nil, 0)
        }
        let head = String(decoding: connection.buffer.readableBytesView[..<end.lowerBound], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        guard status == 101 else {
            connection.close()
            return (nil, status)
        }
        connection.buffer.moveReaderIndex(to: end.upperBound)
        return (RawWebSocket(connection: connection, responseHead: head), status)
    }

    /// Opens a WebSocket or fails the test.
    static func open(port: Int, path: String, headers: [(String, String)] = []) async throws -> RawWebSocket {
        let (socket, status) = try await connect(port: port, path: path, headers: headers)
        guard let socket else { throw TestFailure("WebSocket upgrade refused with \(status)") }
        return socket
    }

    func send(_ text: String) async throws {
        try await sendFrame(opcode: 0x1, payload: Array(text.utf8))
    }

    func send(binary: [UInt8]) async throws {
        try await sendFrame(opcode: 0x2, payload: binary)
    }

    func sendFrame(opcode: UInt8, payload: [UInt8], fin: Bool = true) async throws {
        var frame = ByteBuffer()
        frame.writeInteger((fin ? 0x80 : 0) | opcode)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        if payload.count < 126 {
            frame.writeInteger(UInt8(0x80 | payload.count))
        } else if payload.count <= 0xFFFF {
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        } else {
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(payload.count))
        }
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await connection.write(frame)
    }

    /// The next text or binary message (control frames are skipped), or `.closed`.
    func receive() async throws -> Message {
        var fragments: [UInt8] = []
        var fragmentOpcode: UInt8 = 0
        while true {
            guard let (fin, opcode, payload) = await nextFrame() else {
                isClosed = true
                return .closed
            }
            switch opcode {
            case 0x8:
                isClosed = true
                return .closed
            case 0x9, 0xA:
                continue
            case 0x0:
                fragments += payload
            default:
                fragmentOpcode = opcode
                fragments = payload
            }
            guard fin else { continue }
            return fragmentOpcode == 0x1 ? .text(String(decoding: fragments, as: UTF8.self)) : .binary(fragments)
        }
    }

    /// The next message that is not an Engine.IO ping (`2`); pings are answered when `pong`.
    func receiveSkippingPings(pong: Bool = true) async throws -> Message {
        while true {
            let message = try await receive()
            if message != .text("2") { return message }
            if pong { try await send("3") }
        }
    }

    /// The next frame of any kind, control frames included; nil when the connection ended.
    func receiveFrame() async -> (opcode: UInt8, payload: [UInt8])? {
        guard let (_, opcode, payload) = await nextFrame() else { return nil }
        return (opcode, payload)
    }

    /// Waits until the server closes the connection, discarding messages.
    func waitForClose() async throws {
        while try await receive() != .closed {}
    }

    func close() {
        connection.close()
    }

    private func nextFrame() async -> (Bool, UInt8, [UInt8])? {
        while true {
            var view = connection.buffer
            if let first: UInt8 = view.readInteger(), let second: UInt8 = view.readInteger() {
                var length = Int(second & 0x7F)
                var ok = true
                if length == 126 {
                    if let value: UInt16 = view.readInteger() { length = Int(value) } else { ok = false }
                } else if length == 127 {
                    if let value: UInt64 = view.readInteger() { length = Int(value) } else { ok = false }
                }
                if ok, let payload = view.readBytes(length: length) {
                    connection.buffer = view
                    return (first & 0x80 != 0, first & 0x0F, payload)
                }
            }
            guard await connection.fill() else { return nil }
        }
    }
}
