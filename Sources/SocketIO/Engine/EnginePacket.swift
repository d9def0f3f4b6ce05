import NIOCore

/// An application message carried by Engine.IO (packet type `4`).
public enum EngineIOMessage: Sendable, Hashable {
    case text(String)
    case binary(ByteBuffer)
}

/// Engine.IO v4 packet types.
enum EnginePacketType: UInt8 {
    case open = 0x30, close, ping, pong, message, upgrade, noop
}

/// One encoded Engine.IO packet ready for a transport; the bytes are shared, never copied per
/// receiver.
enum EngineFrame: Sendable {
    /// A text packet: the type digit followed by its data, UTF-8.
    case text(ByteBuffer)
    /// A binary message packet (raw bytes; base64 with a `b` prefix on polling).
    case binary(ByteBuffer)

    var byteCount: Int {
        switch self {
        case .text(let buffer), .binary(let buffer): return buffer.readableBytes
        }
    }

    static func control(_ type: EnginePacketType, _ data: String = "") -> EngineFrame {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(1 + data.utf8.count)
        buffer.writeInteger(type.rawValue)
        buffer.writeString(data)
        return .text(buffer)
    }

    static func message(_ message: EngineIOMessage) -> EngineFrame {
        switch message {
        case .text(let string): return .control(.message, string)
        case .binary(let buffer): return .binary(buffer)
        }
    }
}

/// A decoded inbound Engine.IO packet.
enum EngineInbound: Equatable {
    case ping(String)
    case pong(String)
    case message(EngineIOMessage)
    case close
    case upgrade
    case noop
}

/// Why an inbound Engine.IO packet was rejected.
struct EngineDecodeError: Error {
    let reason: String
}

enum EngineCodec {
    /// Decodes one text packet (`<type digit><data>`).
    static func decode(text: Substring) throws(EngineDecodeError) -> EngineInbound {
        guard let first = text.utf8.first, let type = EnginePacketType(rawValue: first) else {
            throw EngineDecodeError(reason: "unknown packet type")
        }
        let data = text.dropFirst()
        switch type {
        case .message: return .message(.text(String(data)))
        case .ping: return .ping(String(data))
        case .pong: return .pong(String(data))
        case .close: return .close
        case .upgrade: return .upgrade
        case .noop: return .noop
        case .open: throw EngineDecodeError(reason: "open packet from client")
        }
    }

    /// Decodes an HTTP long-polling payload: packets separated by `\u{1e}`, binary packets
    /// as `b<base64>`. At most `maxPackets` packets are accepted.
    static func decodePayload(_ payload: ByteBuffer, maxPackets: Int) throws(EngineDecodeError) -> [EngineInbound] {
        var packets: [EngineInbound] = []
        let view = payload.readableBytesView
        var start = view.startIndex
        while true {
            let end = view[start...].firstIndex(of: 0x1E) ?? view.endIndex
            let part = view[start..<end]
            guard let first = part.first else { throw EngineDecodeError(reason: "empty packet") }
            if first == UInt8(ascii: "b") {
                guard let bytes = Base64.decode(part.dropFirst()) else {
                    throw EngineDecodeError(reason: "invalid base64")
                }
                packets.append(.message(.binary(ByteBuffer(bytes: bytes))))
            } else {
                guard let text = String(validating: part, as: UTF8.self) else {
                    throw EngineDecodeError(reason: "invalid UTF-8")
                }
                packets.append(try decode(text: Substring(text)))
            }
            guard packets.count <= maxPackets else { throw EngineDecodeError(reason: "too many packets") }
            if end == view.endIndex { break }
            start = view.index(after: end)
        }
        return packets
    }

    /// Encodes frames as one long-polling payload.
    static func encodePayload(_ frames: some Collection<EngineFrame>) -> ByteBuffer {
        var size = 0
        for frame in frames {
            switch frame {
            case .text(let buffer): size += buffer.readableBytes + 1
            case .binary(let buffer): size += (buffer.readableBytes + 2) / 3 * 4 + 2
            }
        }
        var out = ByteBuffer()
        out.reserveCapacity(size)
        var first = true
        for frame in frames {
            if !first { out.writeInteger(UInt8(0x1E)) }
            first = false
            switch frame {
            case .text(let buffer): out.writeImmutableBuffer(buffer)
            case .binary(let buffer):
                out.writeInteger(UInt8(ascii: "b"))
                Base64.encode(buffer.readableBytesView, into: &out)
            }
        }
        return out
    }
}

/// Strict standard base64 (RFC 4648 §4, padding required).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: some Collection<UInt8>, into out: inout ByteBuffer) {
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.writeInteger(alphabet[Int(n >> 18 & 63)])
            out.writeInteger(alphabet[Int(n >> 12 & 63)])
            out.writeInteger(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.writeInteger(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
    }

    private static func value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var quad: [UInt8] = []
        quad.reserveCapacity(4)
        var index = 0
        let total = text.count
        for c in text {
            quad.append(c)
            index += 1
            guard quad.count == 4 else { continue }
            let last = index == total
            let pad2 = quad[3] == UInt8(ascii: "=")
            let pad1 = quad[2] == UInt8(ascii: "=")
            if (pad2 || pad1) && !last { return nil }
            if pad1 && !pad2 { return nil }
            guard let v0 = value(quad[0]), let v1 = value(quad[1]) else { return nil }
            let v2 = pad1 ? 0 : value(quad[2])
            let v3 = pad2 ? 0 : value(quad[3])
            guard let v2, let v3 else { return nil }
            let n = v0 << 18 | v1 << 12 | v2 << 6 | v3
            out.append(UInt8(n >> 16 & 0xFF))
            if !pad1 { out.append(UInt8(n >> 8 & 0xFF)) }
            if !pad2 { out.append(UInt8(n & 0xFF)) }
            quad.removeAll(keepingCapacity: true)
        }
        return out
    }
}
