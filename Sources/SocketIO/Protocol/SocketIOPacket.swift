import NIOCore

/// Socket.IO v5 packet types.
enum SocketIOPacketType: UInt8 {
    case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
}

/// A decoded (or to-be-encoded) Socket.IO packet.
struct SocketIOPacket: Equatable {
    var type: SocketIOPacketType
    var namespace: String
    var id: UInt64?
    var data: JSONValue?
    /// Attachments still expected (binary packets only).
    var attachments: Int = 0
}

/// Why a Socket.IO packet was rejected; the session that sent it is closed.
struct SocketIOParseError: Error, CustomStringConvertible {
    let reason: String
    var description: String { "invalid Socket.IO packet: \(reason)" }
}

/// Limits for inbound Socket.IO packets.
struct SocketIODecodeLimits {
    var json: JSONLimits
    var maxAttachments: Int
    var maxAttachmentBytes: Int
    var maxNamespaceLength = 256
}

enum SocketIOCodec {
    static let reservedEvents: Set<String> = [
        "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
    ]

    /// Decodes the text part of a packet, checking the payload shape for its type.
    static func decode(_ text: String, limits: SocketIODecodeLimits) throws(SocketIOParseError) -> SocketIOPacket {
        var text = text
        let result: Result<SocketIOPacket, SocketIOParseError> = text.withUTF8 { bytes in
            do throws(SocketIOParseError) { return .success(try decode(bytes: bytes, limits: limits)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    static func decode(bytes: UnsafeBufferPointer<UInt8>, limits: SocketIODecodeLimits) throws(SocketIOParseError)
        -> SocketIOPacket
    {
        var index = 0
        func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        guard let first = bytes.first, isDigit(first), let type = SocketIOPacketType(rawValue: first - 0x30) else {
            throw SocketIOParseError(reason: "unknown packet type")
        }
        index = 1
        var packet = SocketIOPacket(type: type, namespace: "/")
        if type == .binaryEvent || type == .binaryAck {
            var count = 0
            var digits = 0
            while index < bytes.count, isDigit(bytes[index]) {
                count = count * 10 + Int(bytes[index] - 0x30)
                digits += 1
                index += 1
                guard digits <= 6 else { throw SocketIOParseError(reason: "attachment count") }
            }
            guard digits > 0, index < bytes.count, bytes[index] == UInt8(ascii: "-") else {
                throw SocketIOParseError(reason: "illegal attachments")
            }
            index += 1
            guard count <= limits.maxAttachments else { throw SocketIOParseError(reason: "too many attachments") }
            packet.attachments = count
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            guard index - start <= limits.maxNamespaceLength else { throw SocketIOParseError(reason: "namespace too long") }
            packet.namespace = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        if index < bytes.count, isDigit(bytes[index]) {
            var id: UInt64 = 0
            var digits = 0
            while index < bytes.count, isDigit(bytes[index]) {
                id = id * 10 + UInt64(bytes[index] - 0x30)
                digits += 1
                index += 1
                guard digits <= 15 else { throw SocketIOParseError(reason: "ack id too long") }
            }
            packet.id = id
        }
        if index < bytes.count {
            do {
                packet.data = try JSONParser(limits: limits.json).parse(bytes: UnsafeBufferPointer(rebasing: bytes[index...]))
            } catch {
                throw SocketIOParseError(reason: "payload: \(error)")
            }
        }
        guard isPayloadValid(packet) else { throw SocketIOParseError(reason: "invalid payload") }
        return packet
    }

    static func isPayloadValid(_ packet: SocketIOPacket) -> Bool {
        switch packet.type {
        case .connect:
            guard let data = packet.data else { return true }
            if case .object = data { return true }
            return false
        case .disconnect:
            return packet.data == nil
        case .connectError:
            switch packet.data {
            case .string?, .object?: return true
            default: return false
            }
        case .event, .binaryEvent:
            guard case .array(let elements)? = packet.data, let head = elements.first else { return false }
            switch head {
            case .string(let name): return !reservedEvents.contains(name)
            case .number: return true
            default: return false
            }
        case .ack, .binaryAck:
            if case .array? = packet.data { return true }
            return false
        }
    }

    /// Replaces `{"_placeholder":true,"num":N}` objects with the attachments.
    static func reconstruct(_ value: JSONValue, attachments: [ByteBuffer]) throws(SocketIOParseError) -> JSONValue {
        switch value {
        case .array(let elements):
            var out: [JSONValue] = []
            out.reserveCapacity(elements.count)
            for element in elements { out.append(try reconstruct(element, attachments: attachments)) }
            return .array(out)
        case .object(let members):
            if members.count == 2, value["_placeholder"] == .bool(true), let num = value["num"]?.numberValue {
                guard num >= 0, num < Double(attachments.count), num == num.rounded() else {
                    throw SocketIOParseError(reason: "illegal attachment index")
                }
                return .binary(attachments[Int(num)])
            }
            var out: [(key: String, value: JSONValue)] = []
            out.reserveCapacity(members.count)
            for member in members {
                out.append((key: member.key, value: try reconstruct(member.value, attachments: attachments)))
            }
            return .object(out)
        default:
            return value
        }
    }

    /// Encodes a packet as Engine.IO frames: a text frame (`4` + Socket.IO packet) followed by
    /// any binary attachments (binary values are replaced by placeholders, depth first).
    static func encode(type: SocketIOPacketType, namespace: String, id: UInt64? = nil, data: JSONValue?) -> [EngineFrame] {
        var attachments: [ByteBuffer] = []
        var json = ""
        if let data {
            JSONWriter.write(data, into: &json) { buffer, out in
                out += "{\"_placeholder\":true,\"num\":\(attachments.count)}"
                attachments.append(buffer)
            }
        }
        var actualType = type
        if !attachments.isEmpty {
            if type == .event { actualType = .binaryEvent }
            if type == .ack { actualType = .binaryAck }
        }
        var header = "4"
        header += String(actualType.rawValue)
        if actualType == .binaryEvent || actualType == .binaryAck {
            header += "\(attachments.count)-"
        }
        if namespace != "/" { header += namespace + "," }
        if let id { header += String(id) }
        var buffer = ByteBuffer()
        buffer.reserveCapacity(header.utf8.count + json.utf8.count)
        buffer.writeString(header)
        buffer.writeString(json)
        var frames: [EngineFrame] = [.text(buffer)]
        for attachment in attachments { frames.append(.binary(attachment)) }
        return frames
    }
}
