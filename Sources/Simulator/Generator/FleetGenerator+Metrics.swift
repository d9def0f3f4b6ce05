/// Metric values: the signal, spikes and stuck periods, and their ground truth.
extension FleetGenerator {
    /// The value of one metric at one sample; starts and ends spikes and stuck periods.
    mutating func metricValue(device index: Int, metric metricIndex: Int, at time: Int64) -> Double {
        let number = devices[index].device.number
        var state = devices[index].metrics[metricIndex]
        defer { devices[index].metrics[metricIndex] = state }
        let metric = state.model.metric
        // One noise draw per sample, always, so anomalies never shift the noise stream.
        let noise =
            metric.noise.map { profile in
                Swift.max(-profile.clamp, Swift.min(profile.clamp, state.noise.nextGaussian())) * profile.stddev
            } ?? 0
        let normal = state.model.finish(state.model.clean(elapsedMilliseconds: time) + noise)
        if let anomaly = state.anomaly, time >= anomaly.end { state.anomaly = nil }

        // Spikes take precedence in the order below only when no event is running: events of
        // one metric never overlap.
        if let spikes = metric.spikes, spikes.event.applies(to: number) {
            if let window = Self.trigger(
                spikes.event,
                random: &state.spikeRandom,
                occurrence: &state.nextSpikeOccurrence,
                at: time
            ), state.anomaly == nil {
                let peak = state.model.finish(state.model.clean(elapsedMilliseconds: window.start) + spikes.magnitude)
                state.anomaly = DeviceState.Anomaly(
                    kind: .spike,
                    end: window.end,
                    value: peak,
                    record: record(
                        .spike,
                        device: index,
                        metric: metric.name,
                        window: window,
                        value: peak,
                        magnitude: spikes.magnitude
                    )
                )
            }
        }
        if let stuck = metric.stuck, stuck.applies(to: number) {
            if let window = Self.trigger(
                stuck,
                random: &state.stuckRandom,
                occurrence: &state.nextStuckOccurrence,
                at: time
            ), state.anomaly == nil {
                state.anomaly = DeviceState.Anomaly(
                    kind: .stuck,
                    end: window.end,
                    value: normal,
                    record: record(
                        .stuck,
                        device: index,
                        metric: metric.name,
                        window: window,
                        value: normal,
                        magnitude: nil
                    )
                )
            }
        }
        guard let anomaly = state.anomaly else { return normal }
        if let record = anomaly.record {
            let ts = startMilliseconds + time
            updateRecord(record) { record in
                record.readings = (record.readings ?? 0) + 1
                if record.firstReadingTs == nil { record.firstReadingTs = ts }
                record.lastReadingTs = ts
            }
        }
        return anomaly.value
    }

    private mutating func record(
        _ kind: GroundTruthRecord.Kind,
        device index: Int,
        metric: String,
        window: (start: Int64, end: Int64),
        value: Double,
        magnitude: Double?
    ) -> Int? {
        guard recordsGroundTruth else { return nil }
        return appendRecord(
            GroundTruthRecord(
                kind: kind,
                device: devices[index].device.id,
                metric: metric,
                start: startMilliseconds + window.start,
                end: startMilliseconds + window.end,
                value: value,
                magnitude: magnitude,
                readings: 0
            )
        )
    }

    /// Whether an event starts at this sample, and its window `[start, end)` (relative ms).
    /// Probability triggers draw exactly one number per sample; schedules skip occurrences
    /// that ended before this sample (the device was offline, or another event was running).
    private static func trigger(
        _ event: EventProfile,
        random: inout Xoshiro256StarStar,
        occurrence: inout Int64,
        at time: Int64
    ) -> (start: Int64, end: Int64)? {
        switch event.trigger {
        case .probability(let probability):
            guard random.nextUnit() < probability else { return nil }
            return (time, time + event.durationMilliseconds)
        case .schedule(let every, let at):
            while at + occurrence * every + event.durationMilliseconds <= time { occurrence += 1 }
            let start = at + occurrence * every
            guard start <= time else { return nil }
            occurrence += 1
            return (start, start + event.durationMilliseconds)
        }
    }
}
