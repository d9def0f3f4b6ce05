/// How ``SimulatorService`` runs a fleet.
public struct SimulatorConfiguration: Sendable {
    /// The fleet (from ``FleetProfileParser``).
    public var fleet: FleetProfile
    /// Overrides the fleet's seed. Default `nil` (use the fleet's).
    public var seed: UInt64?
    /// Total readings per second for the whole fleet (see ``PacingPlan``). Default `nil`: the
    /// profile's own rates.
    public var targetRate: Double?
    /// Stop after this much run time. Default `nil`: no time limit.
    public var duration: Duration?
    /// Stop after this many readings. Default `nil`: no count limit.
    public var count: Int?
    /// Epoch milliseconds of the run's start. Default `nil`: the wall clock when `run()` starts.
    public var startMilliseconds: Int64?
    /// Wake-up granularity of the publishing loop. Default 10 ms.
    public var tick: Duration
    /// Largest batch handed to the sink. Default 1000.
    public var maxBatch: Int
    /// How often the progress callback is called. Default 1 s.
    public var progressInterval: Duration

    /// Creates a configuration with the defaults above.
    public init(
        fleet: FleetProfile,
        seed: UInt64? = nil,
        targetRate: Double? = nil,
        duration: Duration? = nil,
        count: Int? = nil,
        startMilliseconds: Int64? = nil,
        tick: Duration = .milliseconds(10),
        maxBatch: Int = 1000,
        progressInterval: Duration = .seconds(1)
    ) {
        self.fleet = fleet
        self.seed = seed
        self.targetRate = targetRate
        self.duration = duration
        self.count = count
        self.startMilliseconds = startMilliseconds
        self.tick = tick
        self.maxBatch = maxBatch
        self.progressInterval = progressInterval
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
