#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The wall clock as the stages read it: epoch milliseconds, rounded down.
///
/// The domain itself never reads the clock (callers pass `now` in); this is the one place the
/// stages around it do, for receive times, wall-clock window closing and hub timestamps.
public enum WallClock {
    /// The current time in epoch milliseconds.
    public static func nowMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
