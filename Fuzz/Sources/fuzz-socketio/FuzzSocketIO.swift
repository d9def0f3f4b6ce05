// libFuzzer entry point for the Socket.IO packet and JSON decoders. No `main` here: libFuzzer
// provides it.
@testable import SocketIO

/// Limits as the server uses them by default, smaller for attachments to keep runs fast.
private let limits = SocketIODecodeLimits(json: JSONLimits(), maxAttachments: 10, maxAttachmentBytes: 100_000)

/// Feeds one input to the Socket.IO packet decoder (bytes and text paths) and to the JSON parser.
/// An accepted packet must have a payload valid for its type; the text of a parsed JSON value
/// must parse again, to a value with the same text (non-finite numbers become `null`). Anything else (a trap, an address-sanitizer report) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSocketIO(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    if let packet = try? SocketIOCodec.decode(bytes: bytes, limits: limits) {
        precondition(SocketIOCodec.isPayloadValid(packet), "accepted packet with an invalid payload")
    }
    let text = String(decoding: bytes, as: UTF8.self)
    if let packet = try? SocketIOCodec.decode(text, limits: limits) {
        precondition(SocketIOCodec.isPayloadValid(packet), "accepted packet with an invalid payload")
    }
    if let value = try? JSONParser(limits: limits.json).parse(bytes: bytes) {
        let text = value.jsonText
        let again = try? JSONParser(limits: JSONLimits(maxDepth: 32, maxValues: 100_000, maxBytes: .max)).parse(text)
        precondition(again?.jsonText == text, "JSON text written by the server does not parse back to itself")
    }
    return 0
}
