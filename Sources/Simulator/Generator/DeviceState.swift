/// The running state of one simulated device inside ``FleetGenerator``.
struct DeviceState {
    enum AnomalyKind { case spike, stuck }

    struct Anomaly {
        var kind: AnomalyKind
        var end: Int64
        var value: Double
        var record: Int?
    }

    struct MetricState {
        var model: SignalModel
        var noise: Xoshiro256StarStar
        var spikeRandom: Xoshiro256StarStar
        var stuckRandom: Xoshiro256StarStar
        var anomaly: Anomaly?
        var nextSpikeOccurrence: Int64 = 0
        var nextStuckOccurrence: Int64 = 0
    }

    let device: SimulatedDevice
    let telemetryTopic: String
    let statusTopic: String
    let metricNames: [String]
    let intervalMilliseconds: Double
    let offsetMilliseconds: Int64
    var metrics: [MetricState]
    var offlineRandom: Xoshiro256StarStar
    var lateRandom: Xoshiro256StarStar
    var sampleIndex: Int64 = 0
    var seq: UInt64 = 0
    var offlineUntil: Int64?
    var nextOfflineOccurrence: Int64 = 0
    var lastReadingTs: Int64?
    /// Offline records still waiting for the first reading after them.
    var openOfflineRecords: [Int] = []

    /// Relative time of sample `index`: the device's stagger offset plus `index` intervals.
    func sampleTime(_ index: Int64) -> Int64 {
        offsetMilliseconds + Int64((Double(index) * intervalMilliseconds).rounded(.down))
    }

    /// The first sample index whose time is at or after `time`.
    func firstSampleIndex(atOrAfter time: Int64) -> Int64 {
        var index = max(0, Int64((Double(time - offsetMilliseconds) / intervalMilliseconds).rounded(.up)))
        while sampleTime(index) < time { index += 1 }
        while index > 0, sampleTime(index - 1) >= time { index -= 1 }
        return index
    }
}
