// libFuzzer entry point for the Engine.IO decoders. No `main` here: libFuzzer provides it.
import NIOCore

@testable import SocketIO

/// Feeds one input to every Engine.IO decoder: as a polling payload, as one text packet and as
/// base64. Decoders must return a value or throw their typed error; anything else (a trap, an
/// address-sanitizer report, a leak) is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEngineIO(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: data == nil ? 0 : size)
    _ = try? EngineCodec.decodePayload(ByteBuffer(bytes: bytes), maxPackets: 1_000)
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? EngineCodec.decode(text: Substring(text))
    _ = Base64.decode(bytes)
    return 0
}
