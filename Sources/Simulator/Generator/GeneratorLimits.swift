/// Where a generated run stops. Late readings sampled before the stop are still delivered, and an
/// offline period that has started still ends (with its `online` status).
public struct GeneratorLimits: Sendable, Hashable {
    /// Sample readings with `ts < start + duration` only; offline periods that would end after it
    /// do not start. `nil`: no time limit.
    public var durationMilliseconds: Int64?
    /// Sample at most this many readings (the earliest ones). `nil`: no count limit.
    public var readings: Int?

    /// Creates limits.
    public init(durationMilliseconds: Int64? = nil, readings: Int? = nil) {
        self.durationMilliseconds = durationMilliseconds
        self.readings = readings
    }

    /// No limit: the generator never ends.
    public static let unbounded = GeneratorLimits()
}
