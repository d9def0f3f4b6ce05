/// The pacing model: from a target total rate to a fleet whose devices publish at that rate.
///
/// The ratio between device types is kept: every type's per-device rate is multiplied by
/// `targetRate / fleet.totalRate`. Timestamps stay real wall-clock times (a faster rate means
/// readings closer together, not a faster clock).
public struct PacingPlan: Sendable, Hashable {
    /// The fleet's own total rate (sum of `count × rate`), readings per second.
    public let naturalRate: Double
    /// The total rate the plan aims for, readings per second.
    public let targetRate: Double
    /// `targetRate / naturalRate`.
    public let factor: Double
    /// The fleet with scaled rates.
    public let fleet: FleetProfile

    /// Plans `fleet` at `targetRate` total readings per second (`nil`: the fleet's own rates).
    /// Fails when a device would need more than 1000 readings per second (one per millisecond).
    public init(fleet: FleetProfile, targetRate: Double?) throws(ProfileError) {
        naturalRate = fleet.totalRate
        let target = targetRate ?? naturalRate
        guard target.isFinite, target > 0, naturalRate > 0 else {
            throw ProfileError(
                code: .outOfRange,
                file: "--rate",
                field: "rate",
                message: "the target rate must be a positive number of readings per second, got \(target)"
            )
        }
        self.targetRate = target
        factor = target / naturalRate
        var scaled = fleet
        let fastest = fleet.types.map(\.rate).max() ?? 1
        for index in scaled.types.indices {
            let rate = scaled.types[index].rate * factor
            guard rate <= 1000 else {
                let most = 1000 / fastest * naturalRate
                throw ProfileError(
                    code: .outOfRange,
                    file: "--rate",
                    deviceType: scaled.types[index].name,
                    field: "rate",
                    message: "\(target) readings/s would need \(rate) per device (at most 1000); "
                        + "ask for at most \(Int(most.rounded(.down))) readings/s or add devices"
                )
            }
            scaled.types[index].rate = rate
        }
        self.fleet = scaled
    }

    /// Readings expected in `seconds` of run time (`targetRate × seconds`). The generator's
    /// count differs from it by at most one reading per device.
    public func expectedReadings(seconds: Double) -> Double { targetRate * seconds }

    /// Mean number of readings that fall into one batch tick.
    public func expectedBatchSize(tickMilliseconds: Int64) -> Double {
        targetRate * Double(tickMilliseconds) / 1000
    }
}
