import Foundation

/// SplitMix64: used to derive independent seeds from the fleet seed (never the system RNG).
struct SplitMix64 {
    private(set) var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Mixes `parts` into one 64-bit seed, so each (seed, type, device, metric, purpose) gets its
    /// own stream and enabling one feature does not shift the random numbers of another.
    static func derive(_ parts: UInt64...) -> UInt64 {
        var mixer = SplitMix64(seed: 0x243F_6A88_85A3_08D3)
        var result: UInt64 = 0
        for part in parts {
            mixer.state ^= part &* 0xD6E8_FEB8_6659_FD93
            result = mixer.next()
        }
        return result
    }
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64. Deterministic on every platform.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Creates a generator whose whole sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var mixer = SplitMix64(seed: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) <<< 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 <<< 45
        return result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in `range` (inclusive), by rejection (no modulo bias).
    public mutating func nextInt(in range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(bitPattern: range.upperBound &- range.lowerBound) &+ 1
        if span == 0 { return Int64(bitPattern: next()) }
        let limit = UInt64.max - UInt64.max % span
        var value = next()
        while value >= limit { value = next() }
        return range.lowerBound &+ Int64(bitPattern: value % span)
    }

    /// Standard normal (Box–Muller, one value per call so the stream position is fixed).
    public mutating func nextGaussian() -> Double {
        let u1 = 1 - nextUnit()  // (0, 1]
        let u2 = nextUnit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

infix operator <<< : BitwiseShiftPrecedence
private func <<< (value: UInt64, amount: UInt64) -> UInt64 {
    (value << amount) | (value >> (64 - amount))
}
