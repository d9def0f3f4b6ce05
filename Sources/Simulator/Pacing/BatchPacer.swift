/// When to publish what: the pure part of the real-time loop.
///
/// Publications are due at their offset; the loop wakes on tick boundaries (so a busy fleet costs
/// one wake-up per tick, not one per reading) and publishes everything due, in batches of at
/// most `maxBatch`.
public struct BatchPacer: Sendable, Hashable {
    /// What the loop should do next.
    public enum Decision: Sendable, Hashable {
        /// Publish the pending publications whose offset is at most `dueUntil`.
        case publish(dueUntil: Int64)
        /// Sleep until this many milliseconds after the start, then ask again.
        case sleep(untilMilliseconds: Int64)
        /// Nothing is left: the run is over.
        case finished
    }

    /// Wake-up granularity in milliseconds (default 10).
    public var tickMilliseconds: Int64
    /// Largest batch handed to the sink at once (default 1000).
    public var maxBatch: Int

    /// Creates a pacer.
    public init(tickMilliseconds: Int64 = 10, maxBatch: Int = 1000) {
        self.tickMilliseconds = max(1, tickMilliseconds)
        self.maxBatch = max(1, maxBatch)
    }

    /// Decides from the offset of the next pending publication and the elapsed run time (ms).
    public func decide(nextOffset: Int64?, elapsedMilliseconds elapsed: Int64) -> Decision {
        guard let nextOffset else { return .finished }
        if nextOffset <= elapsed { return .publish(dueUntil: elapsed) }
        // Round the wake-up up to the next tick boundary.
        let wake = (nextOffset + tickMilliseconds - 1) / tickMilliseconds * tickMilliseconds
        return .sleep(untilMilliseconds: wake)
    }

    /// How far behind schedule the loop is: elapsed time minus the offset of the oldest due
    /// publication (0 when on time).
    public func lag(oldestDueOffset: Int64?, elapsedMilliseconds elapsed: Int64) -> Int64 {
        guard let oldestDueOffset else { return 0 }
        return max(0, elapsed - oldestDueOffset)
    }
}
