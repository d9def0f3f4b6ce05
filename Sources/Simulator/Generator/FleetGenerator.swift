import Foundation

/// The deterministic fleet generator: given a fleet, a seed and a start time it produces the
/// exact sequence of MQTT publications of a run, in the order they are due, plus the
/// ``GroundTruth`` of what it injected. Pure: no clock, no I/O, no system randomness.
///
/// The same fleet, seed, start and limits always give the same publications, byte for byte.
public struct FleetGenerator: Sendable, IteratorProtocol, Sequence {
    /// The fleet being simulated.
    public let fleet: FleetProfile
    /// Epoch milliseconds of offset 0; reading `ts` = start + sample offset.
    public let startMilliseconds: Int64
    /// The seed in use (the fleet's unless overridden).
    public let seed: UInt64
    /// Where the run stops.
    public let limits: GeneratorLimits
    /// Whether ground truth is recorded (turn it off for endless live runs).
    public let recordsGroundTruth: Bool

    /// What was injected so far.
    public internal(set) var groundTruth = GroundTruth()
    /// Readings sampled so far (each is published exactly once, late or not).
    public private(set) var readingsSampled = 0

    var devices: [DeviceState] = []
    private var queue = EventQueue()
    private var output: [Publication] = []
    private var outputIndex = 0
    private var samplingDone = false
    /// Records already handed out by ``takeGroundTruth()``.
    private var takenRecords = 0

    /// Creates a generator. `seed` overrides the fleet's seed. The fleet should be validated
    /// (``FleetProfileParser`` does it); rates must be in `(0, 1000]`.
    public init(
        fleet: FleetProfile,
        startMilliseconds: Int64,
        seed: UInt64? = nil,
        limits: GeneratorLimits = .unbounded,
        recordsGroundTruth: Bool = true
    ) {
        self.fleet = fleet
        self.startMilliseconds = startMilliseconds
        self.seed = seed ?? fleet.seed
        self.limits = limits
        self.recordsGroundTruth = recordsGroundTruth
        for device in fleet.devices {
            let type = fleet.types[device.typeIndex]
            let t = UInt64(device.typeIndex)
            let d = UInt64(device.indexInType)
            let interval = 1000 / Swift.min(Swift.max(type.rate, 0.000_001), 1000)
            var metrics: [DeviceState.MetricState] = []
            for (metricIndex, metric) in type.metrics.enumerated() {
                let m = UInt64(metricIndex)
                var phaseRandom = Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, m, 4))
                let phase =
                    metric.daily?.phaseDegrees.map { $0 * Double.pi / 180 } ?? phaseRandom.nextUnit() * 2 * Double.pi
                metrics.append(
                    DeviceState.MetricState(
                        model: SignalModel(metric: metric, phaseRadians: phase),
                        noise: Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, m, 1)),
                        spikeRandom: Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, m, 2)),
                        stuckRandom: Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, m, 3))
                    )
                )
            }
            devices.append(
                DeviceState(
                    device: device,
                    telemetryTopic: SimulatorTopics.telemetry(device.id),
                    statusTopic: SimulatorTopics.status(device.id),
                    metricNames: type.metrics.map(\.name),
                    intervalMilliseconds: interval,
                    offsetMilliseconds: Int64(
                        (Double(device.indexInType) * interval / Double(type.count)).rounded(.down)
                    ),
                    metrics: metrics,
                    offlineRandom: Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, 0, 5)),
                    lateRandom: Xoshiro256StarStar(seed: SplitMix64.derive(self.seed, t, d, 0, 6))
                )
            )
        }
        for index in devices.indices {
            queue.push(.announce, at: 0, device: index)
            queue.push(.sample, at: devices[index].sampleTime(0), device: index)
            let type = fleet.types[devices[index].device.typeIndex]
            if let offline = type.offline, offline.applies(to: devices[index].device.number),
                case .schedule(_, let at) = offline.trigger
            {
                queue.push(.offlineStart, at: at, device: index)
            }
        }
    }

    /// The next publication in due order, or `nil` when a bounded run is over.
    public mutating func next() -> Publication? {
        while outputIndex == output.count {
            output.removeAll(keepingCapacity: true)
            outputIndex = 0
            guard let entry = queue.pop() else { return nil }
            process(entry)
        }
        defer { outputIndex += 1 }
        return output[outputIndex]
    }

    /// The next publication without consuming it.
    public mutating func peek() -> Publication? {
        guard let publication = next() else { return nil }
        outputIndex -= 1
        return publication
    }

    /// Removes and returns the ground truth recorded so far. Records of events still running
    /// (spikes, stuck values, offline periods) are returned as they are now; later readings of
    /// those events are not counted anywhere.
    public mutating func takeGroundTruth() -> GroundTruth {
        defer {
            takenRecords += groundTruth.records.count
            groundTruth.records.removeAll()
        }
        return groundTruth
    }

    /// Appends a record; returns its index counted from the start of the run.
    mutating func appendRecord(_ record: GroundTruthRecord) -> Int {
        groundTruth.records.append(record)
        return takenRecords + groundTruth.records.count - 1
    }

    /// Updates the record at run index `index`, unless ``takeGroundTruth()`` handed it out already.
    mutating func updateRecord(_ index: Int, _ update: (inout GroundTruthRecord) -> Void) {
        let position = index - takenRecords
        guard groundTruth.records.indices.contains(position) else { return }
        update(&groundTruth.records[position])
    }

    /// Runs a bounded generator to its end: every publication and the full ground truth.
    /// Never call it on an unbounded generator.
    public mutating func generateAll() -> (publications: [Publication], groundTruth: GroundTruth) {
        var publications: [Publication] = []
        while let publication = next() { publications.append(publication) }
        return (publications, groundTruth)
    }

    // MARK: - Events

    private mutating func process(_ entry: EventQueue.Entry) {
        let index = entry.device
        switch entry.event {
        case .announce:
            emitStatus(.online, device: index, at: entry.time)
        case .sample:
            sample(device: index, at: entry.time)
        case .offlineStart:
            scheduledOffline(device: index, at: entry.time)
        case .offlineEnd:
            devices[index].offlineUntil = nil
            emitStatus(.online, device: index, at: entry.time)
        case .delivery(var publication):
            if let until = devices[index].offlineUntil, until > entry.time {
                // The device is offline: it delivers when it is back.
                queue.push(.delivery(publication), at: until, device: index)
                return
            }
            publication.offsetMilliseconds = entry.time
            if recordsGroundTruth, case .telemetry(let seq, let ts) = publication.kind {
                _ = appendRecord(
                    GroundTruthRecord(
                        kind: .late,
                        device: publication.deviceID,
                        seq: seq,
                        ts: ts,
                        publishedAt: startMilliseconds + entry.time
                    )
                )
            }
            output.append(publication)
        }
    }

    private var durationLimit: Int64 { limits.durationMilliseconds ?? .max }

    private mutating func scheduledOffline(device index: Int, at time: Int64) {
        let type = fleet.types[devices[index].device.typeIndex]
        guard let offline = type.offline, case .schedule(let every, _) = offline.trigger else { return }
        if !samplingDone, time < durationLimit {
            queue.push(.offlineStart, at: time + every, device: index)
        }
        guard devices[index].offlineUntil == nil else { return }
        startOffline(device: index, at: time, duration: offline.durationMilliseconds)
    }

    /// Starts an offline period unless the run ends first. Returns whether it started.
    @discardableResult
    private mutating func startOffline(device index: Int, at time: Int64, duration: Int64) -> Bool {
        guard !samplingDone, time + duration <= durationLimit else { return false }
        devices[index].offlineUntil = time + duration
        queue.push(.offlineEnd, at: time + duration, device: index)
        emitStatus(.offline, device: index, at: time)
        if recordsGroundTruth {
            let record = appendRecord(
                GroundTruthRecord(
                    kind: .offline,
                    device: devices[index].device.id,
                    start: startMilliseconds + time,
                    end: startMilliseconds + time + duration,
                    lastReadingBefore: devices[index].lastReadingTs
                )
            )
            devices[index].openOfflineRecords.append(record)
        }
        return true
    }

    private mutating func sample(device index: Int, at time: Int64) {
        guard !samplingDone, time < durationLimit, limits.readings.map({ readingsSampled < $0 }) ?? true else {
            samplingDone = true
            return
        }
        if let until = devices[index].offlineUntil, time < until {
            let next = devices[index].firstSampleIndex(atOrAfter: until)
            devices[index].sampleIndex = next
            queue.push(.sample, at: devices[index].sampleTime(next), device: index)
            return
        }
        let type = fleet.types[devices[index].device.typeIndex]
        devices[index].sampleIndex += 1
        let nextTime = devices[index].sampleTime(devices[index].sampleIndex)
        if let offline = type.offline, offline.applies(to: devices[index].device.number),
            case .probability(let probability) = offline.trigger,
            devices[index].offlineRandom.nextUnit() < probability,
            startOffline(device: index, at: time, duration: offline.durationMilliseconds)
        {
            queue.push(.sample, at: nextTime, device: index)
            return
        }
        queue.push(.sample, at: nextTime, device: index)

        let ts = startMilliseconds + time
        let seq = devices[index].seq
        devices[index].seq += 1
        readingsSampled += 1
        if let limit = limits.readings, readingsSampled >= limit { samplingDone = true }
        var values: [Double] = []
        values.reserveCapacity(devices[index].metrics.count)
        for metricIndex in devices[index].metrics.indices {
            values.append(metricValue(device: index, metric: metricIndex, at: time))
        }
        devices[index].lastReadingTs = ts
        if recordsGroundTruth {
            for record in devices[index].openOfflineRecords {
                updateRecord(record) { $0.firstReadingAfter = ts }
            }
            devices[index].openOfflineRecords.removeAll()
        }
        let publication = Publication(
            deviceID: devices[index].device.id,
            topic: devices[index].telemetryTopic,
            payload: PayloadEncoder.telemetry(ts: ts, seq: seq, metrics: devices[index].metricNames, values: values),
            qos: type.qos,
            retain: false,
            offsetMilliseconds: time,
            kind: .telemetry(seq: seq, ts: ts)
        )
        if let late = type.late, devices[index].lateRandom.nextUnit() < late.fraction {
            let upper = late.maxDelayMilliseconds
            let lower = Swift.min(
                late.minDelayMilliseconds ?? Int64(devices[index].intervalMilliseconds.rounded(.up)) + 1,
                upper
            )
            let delay = devices[index].lateRandom.nextInt(in: lower...upper)
            queue.push(.delivery(publication), at: time + delay, device: index)
        } else {
            output.append(publication)
        }
    }

    private mutating func emitStatus(_ status: SimulatedDeviceStatus, device index: Int, at time: Int64) {
        output.append(
            Publication(
                deviceID: devices[index].device.id,
                topic: devices[index].statusTopic,
                payload: Array(status.rawValue.utf8),
                qos: 1,
                retain: true,
                offsetMilliseconds: time,
                kind: .status(status)
            )
        )
    }
}
