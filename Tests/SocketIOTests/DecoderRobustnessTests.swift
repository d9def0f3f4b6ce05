import NIOCore
import Testing

@testable import SocketIO

/// Mutated packets must be rejected or decoded, never crash or hang the decoders.
@Suite struct DecoderRobustnessTests {
    /// A small deterministic generator (SplitMix64) so failures can be reproduced.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let seeds = [
        #"42["message",1,"2",{"3":[true]}]"#, #"452-789["m",{"_placeholder":true,"num":0}]"#,
        #"40/custom,{"token":"abc"}"#, #"43456[1,"2",{"3":[false]}]"#, #"44{"message":"x"}"#, "41/a,",
    ]

    static func mutate(_ seed: [UInt8], _ random: inout SplitMix) -> [UInt8] {
        var bytes = seed
        let alphabet = Array(#"0123456789[]{}",:-/\_ab"#.utf8) + [0x00, 0x1E, 0xFF, 0xC3]
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<4, using: &random) {
            case 0 where !bytes.isEmpty: bytes.remove(at: Int.random(in: 0..<bytes.count, using: &random))
            case 1: bytes.insert(alphabet.randomElement(using: &random)!, at: Int.random(in: 0...bytes.count, using: &random))
            case 2 where !bytes.isEmpty:
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = alphabet.randomElement(using: &random)!
            default:
                let cut = Int.random(in: 0...bytes.count, using: &random)
                bytes = Array(bytes[..<cut]) + Array(bytes[cut...]) + Array(bytes[cut...])
            }
        }
        return bytes
    }

    @Test func mutatedSocketIOPacketsNeverCrash() {
        var random = SplitMix(state: 0x5EED)
        let limits = SocketIODecodeLimits(json: JSONLimits(), maxAttachments: 10, maxAttachmentBytes: 1_000_000)
        var accepted = 0
        for index in 0..<20_000 {
            let seed = Array(Self.seeds[index % Self.seeds.count].utf8)
            let text = String(decoding: Self.mutate(seed, &random), as: UTF8.self)
            if let packet = try? SocketIOCodec.decode(text, limits: limits) {
                accepted += 1
                #expect(SocketIOCodec.isPayloadValid(packet))
            }
        }
        #expect(accepted > 0)
        #expect(accepted < 20_000)
    }

    @Test func mutatedPollingPayloadsNeverCrash() {
        var random = SplitMix(state: 0xFEED)
        let seed = Array("4hello\u{1e}bAQIDBA==\u{1e}3\u{1e}2probe\u{1e}1".utf8)
        for _ in 0..<20_000 {
            let bytes = Self.mutate(seed, &random)
            _ = try? EngineCodec.decodePayload(ByteBuffer(bytes: bytes), maxPackets: 100)
        }
    }

    @Test func encodeDecodeRoundTripWithAttachments() throws {
        let data: JSONValue = ["event", ["blob": .binary(ByteBuffer(bytes: [1, 2])), "n": 1.5], .binary(ByteBuffer(bytes: [3]))]
        let frames = SocketIOCodec.encode(type: .event, namespace: "/ns", id: 12, data: data)
        #expect(frames.count == 3)
        guard case .text(let head) = frames[0] else { throw TestFailure("no text frame") }
        let text = String(buffer: head)
        #expect(text == #"452-/ns,12["event",{"blob":{"_placeholder":true,"num":0},"n":1.5},{"_placeholder":true,"num":1}]"#)
        let limits = SocketIODecodeLimits(json: JSONLimits(), maxAttachments: 10, maxAttachmentBytes: 1_000)
        var packet = try SocketIOCodec.decode(String(text.dropFirst()), limits: limits)
        #expect(packet.attachments == 2)
        packet.data = try SocketIOCodec.reconstruct(
            packet.data ?? .null, attachments: [ByteBuffer(bytes: [1, 2]), ByteBuffer(bytes: [3])])
        #expect(packet.data == data)
        #expect(packet.namespace == "/ns")
        #expect(packet.id == 12)
    }
}
