import Foundation

/// The pure value model of one metric on one device (see ``MetricProfile``).
public struct SignalModel: Sendable, Hashable {
    /// The metric.
    public let metric: MetricProfile
    /// The phase of the daily cycle in radians for this device.
    public let phaseRadians: Double

    /// Creates the model for one device; `phaseRadians` replaces a random phase.
    public init(metric: MetricProfile, phaseRadians: Double) {
        self.metric = metric
        self.phaseRadians = phaseRadians
    }

    /// Baseline + daily cycle + drift at `elapsed` milliseconds after the run's start (no noise,
    /// no rounding).
    public func clean(elapsedMilliseconds elapsed: Int64) -> Double {
        var value = metric.baseline + metric.driftPerHour * Double(elapsed) / 3_600_000
        if let daily = metric.daily {
            let angle = 2 * Double.pi * Double(elapsed) / Double(daily.periodMilliseconds) + phaseRadians
            value += daily.amplitude * sin(angle)
        }
        return value
    }

    /// Rounds to `decimals` and clamps to `min`/`max`: every emitted value goes through this.
    public func finish(_ raw: Double) -> Double {
        var value = Self.round(raw, decimals: metric.decimals)
        if let minimum = metric.minimum, value < minimum { value = minimum }
        if let maximum = metric.maximum, value > maximum { value = maximum }
        return value.isFinite ? value : metric.baseline
    }

    static func round(_ value: Double, decimals: Int) -> Double {
        let scale = pow(10, Double(decimals))
        let scaled = (value * scale).rounded()
        return scaled / scale
    }
}

extension MetricProfile {
    /// Every value this metric can take outside spikes during the first `duration` milliseconds
    /// of a run, on any device. Stuck values are inside it too.
    ///
    /// So an `above: X` rule with `X >= normalRange(...).upperBound` can only fire during spikes
    /// with `peak > X` (see `docs/simulator.md`).
    public func normalRange(durationMilliseconds duration: Int64) -> ClosedRange<Double> {
        let amplitude = abs(daily?.amplitude ?? 0)
        let noiseBound = noise?.bound ?? 0
        let drift = driftPerHour * Double(max(duration, 0)) / 3_600_000
        let model = SignalModel(metric: self, phaseRadians: 0)
        let low = model.finish(baseline - amplitude - noiseBound + min(0, drift))
        let high = model.finish(baseline + amplitude + noiseBound + max(0, drift))
        return low...high
    }
}

extension MetricProfile {
    /// The largest change between two normal readings `milliseconds` apart (both outside spikes):
    /// the cycle's and the drift's slope times the gap, plus twice the noise bound, plus one
    /// rounding step. Rate rules (`rate_above: R`) never fire on normal readings `Δt` apart when
    /// `maximumNormalChange(overMilliseconds: Δt) / Δt_s <= R` (see `docs/simulator.md`).
    public func maximumNormalChange(overMilliseconds milliseconds: Int64) -> Double {
        let gap = Double(max(milliseconds, 0))
        var change = abs(driftPerHour) * gap / 3_600_000
        if let daily {
            change += abs(daily.amplitude) * 2 * Double.pi * gap / Double(daily.periodMilliseconds)
        }
        change += 2 * (noise?.bound ?? 0)
        change += pow(10, -Double(decimals))
        return change
    }
}
