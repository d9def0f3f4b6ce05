import Kafka
import Telemetry

/// What a readings partition's state produced: records for the stats, alerts and dead-letter
/// topics.
enum WindowingOutput: Sendable {
    case stats(WindowStats)
    case alert(AlertTransition)
    case deadLetter(original: KafkaConsumerRecord, reason: String)
}

/// The windowing state of one readings partition and its bookkeeping: which offset comes next,
/// which devices changed since the last live update, and whether a snapshot is due.
struct PartitionProcessor: Sendable {
    /// What to do with a record of the partition.
    enum Admission: Equatable {
        /// The record is the next one (or the first one of a fresh state): apply it.
        case apply
        /// The state already holds it (a replay after restore): skip it.
        case duplicate
        /// Records between the state and this one are missing: seek back to `offset`.
        case gap(Int64)
    }

    var snapshot: PartitionSnapshot
    /// Devices with readings since the last live update of open windows.
    var touched: Set<DeviceID> = []
    /// The state changed since the last confirmed snapshot.
    var dirty = false
    /// A snapshot must be written at the next flush (an acknowledgement or a wall-clock change
    /// that produced outputs: replaying would not reproduce it exactly).
    var snapshotRequired = false
    /// When the last snapshot was confirmed.
    var lastSnapshot: ContinuousClock.Instant
    /// A seek back to this offset was requested at the given time; other offsets are skipped
    /// until it arrives.
    var pendingSeek: (offset: Int64, since: ContinuousClock.Instant)?

    /// When the newest arrival time was applied or restored (monotonic).
    var clockStarted: ContinuousClock.Instant

    init(snapshot: PartitionSnapshot, now: ContinuousClock.Instant) {
        self.snapshot = snapshot
        self.lastSnapshot = now
        self.clockStarted = now
    }

    /// The partition's clock (epoch ms): the newest arrival time applied plus the time elapsed
    /// here since. While the stage keeps up it is the wall clock; while it replays a backlog
    /// (after a restart or rebalance) it follows the backlog's arrival times, so the stage's own
    /// downtime does not look like silence of the devices. `nil` before any record.
    func clock(now: ContinuousClock.Instant) -> Int64? {
        guard let base = snapshot.maxArrivedAt else { return nil }
        let (seconds, attoseconds) = (now - clockStarted).components
        return base + seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Decides whether `offset` is applied, skipped, or reveals a gap.
    func admission(of offset: Int64) -> Admission {
        guard let next = snapshot.nextOffset else { return .apply }
        if offset == next { return .apply }
        if offset < next { return .duplicate }
        return .gap(next)
    }

    /// Applies a readings record (its offset admitted) and returns the outputs it caused.
    mutating func apply(_ record: KafkaConsumerRecord, arrivedAt: Int64) -> [WindowingOutput] {
        snapshot.nextOffset = record.offset + 1
        pendingSeek = nil
        dirty = true
        if arrivedAt >= snapshot.maxArrivedAt ?? .min {
            snapshot.maxArrivedAt = arrivedAt
            clockStarted = .now
        }
        let reading: Reading
        do {
            reading = try ReadingRecord.decode(record.value)
        } catch {
            return [.deadLetter(original: record, reason: RejectionReason.badRecord.rawValue)]
        }
        var outputs: [WindowingOutput] = []
        let result = snapshot.aggregator.ingest(reading, arrivedAt: arrivedAt)
        outputs.append(contentsOf: result.closed.map(WindowingOutput.stats))
        if let rejection = result.rejection {
            outputs.append(.deadLetter(original: record, reason: rejection.reason.rawValue))
        } else {
            touched.insert(reading.device)
        }
        outputs.append(contentsOf: snapshot.evaluator.evaluate(reading, arrivedAt: arrivedAt).map(WindowingOutput.alert))
        return outputs
    }

    /// Applies the partition's clock (``clock(now:)``): closes windows of silent devices, fires
    /// offline rules.
    mutating func advance(now: ContinuousClock.Instant) -> [WindowingOutput] {
        guard let now = clock(now: now) else { return [] }
        var outputs = snapshot.aggregator.advance(now: now).map(WindowingOutput.stats)
        outputs.append(contentsOf: snapshot.evaluator.advance(now: now).map(WindowingOutput.alert))
        if !outputs.isEmpty {
            dirty = true
            snapshotRequired = true
        }
        return outputs
    }

    /// Live statistics of the open windows of devices that sent readings since the last call.
    mutating func openStatistics() -> [WindowingOutput] {
        let devices = touched.sorted()
        touched.removeAll(keepingCapacity: true)
        let aggregator = snapshot.aggregator
        var outputs: [WindowingOutput] = []
        for device in devices {
            for stats in aggregator.openStatistics(device: device) {
                outputs.append(.stats(stats))
            }
        }
        return outputs
    }

    /// Acknowledges alert `id` if this partition holds it.
    mutating func acknowledge(id: String, at ts: Int64, by name: String?) -> AlertTransition? {
        guard let transition = snapshot.evaluator.acknowledge(id: id, at: ts, by: name) else { return nil }
        dirty = true
        snapshotRequired = true
        return transition
    }

    /// Brings a restored state up to the current configuration; returns what that emitted.
    mutating func reconfigure(_ configuration: TelemetryConfiguration, now: Int64) -> [WindowingOutput] {
        var outputs: [WindowingOutput] = []
        if snapshot.aggregator.configuration != configuration.windowing {
            outputs += snapshot.aggregator.reconfigure(configuration.windowing).map(WindowingOutput.stats)
        }
        if snapshot.evaluator.rules != configuration.rules {
            outputs += snapshot.evaluator.replaceRules(configuration.rules, at: now).map(WindowingOutput.alert)
        }
        if !outputs.isEmpty {
            dirty = true
            snapshotRequired = true
        }
        return outputs
    }
}
