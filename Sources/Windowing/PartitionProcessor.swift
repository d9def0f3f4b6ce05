import DequeModule
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
/// which devices changed since the last snapshot and since the last live update, and whether a
/// snapshot is due.
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

    /// Bookkeeping of one device.
    struct DeviceBook: Sendable {
        /// Offset of the device's last reading in the state (-1: none).
        var appliedThrough: Int64 = -1
        /// Changed since its record was last written (listed in `changedDevices`).
        var changed = false
        /// Has readings since its last live update.
        var live = false
        /// Waiting for its next live update (in `liveSoon` or `liveSchedule`).
        var scheduled = false
        /// The watermark its last written record holds.
        var writtenWatermark = Int64.min
    }

    /// The records of one snapshot of the partition.
    struct Snapshot: Sendable {
        /// Device records (`nil`: tombstone), by changelog key.
        var devices: [(key: String, value: [UInt8]?)]
        /// The partition record, to write once the device records are confirmed.
        var partition: [UInt8]
        /// The last readings offset the snapshot covers.
        var coveredThrough: Int64?
    }

    var state: PartitionState
    var books: [DeviceID: DeviceBook] = [:]
    /// Devices changed since the last snapshot.
    var changedDevices: [DeviceID] = []
    /// Whether live updates of open windows are published (see ``dueOpenStatistics(now:interval:)``).
    var liveUpdates = true
    /// Devices due for a live update at the next tick (readings after a quiet interval).
    var liveSoon: [DeviceID] = []
    /// Devices whose last live update was published, by when the next one may follow (in order:
    /// entries are appended at publication time plus the interval).
    var liveSchedule: Deque<(due: ContinuousClock.Instant, device: DeviceID)> = []
    /// The greatest `appliedThrough` restored: records up to it may already be in a device's state
    /// (its record was written after the partition record; see ``apply(_:arrivedAt:)``).
    var restoredThrough: Int64 = -1
    /// The state changed since the last confirmed snapshot.
    var dirty = false
    /// A snapshot must be written at the next flush (an acknowledgement or a wall-clock change
    /// that produced outputs: replaying would not reproduce it exactly).
    var snapshotRequired = false
    /// When the last snapshot was taken.
    var lastSnapshot: ContinuousClock.Instant
    /// When every device's record was last written.
    var lastFullSnapshot: ContinuousClock.Instant
    /// A seek back to this offset was requested at the given time; other offsets are skipped
    /// until it arrives.
    var pendingSeek: (offset: Int64, since: ContinuousClock.Instant)?

    /// When the newest arrival time was applied or restored (monotonic).
    var clockStarted: ContinuousClock.Instant

    init(state: PartitionState, now: ContinuousClock.Instant) {
        self.state = state
        self.lastSnapshot = now
        self.lastFullSnapshot = now
        self.clockStarted = now
    }

    /// Restores a partition from what the changelog holds under the current `configuration`.
    /// Returns the processor, what the configuration change emitted (see
    /// ``PartitionState/restoreDevice(_:from:now:)``), and the devices whose records could not be
    /// read (they start empty).
    static func restore(
        topic: String, partition: Int, stored: StoredPartition?, configuration: TelemetryConfiguration,
        now: ContinuousClock.Instant, wallClock: Int64
    ) -> (processor: PartitionProcessor, outputs: [WindowingOutput], unreadable: [String]) {
        var processor = PartitionProcessor(
            state: PartitionState(topic: topic, partition: partition, configuration: configuration), now: now)
        guard let stored else { return (processor, [], []) }
        var outputs: [WindowingOutput] = []
        var unreadable: [String] = []
        if let bytes = stored.partition {
            do {
                let record = try PartitionRecord.decode(bytes)
                processor.state.nextOffset = record.nextOffset
                processor.state.maxArrivedAt = record.maxArrivedAt
            } catch {
                unreadable.append("partition record: \(error)")
            }
        }
        for (device, bytes) in stored.devices {
            do {
                let restored = try processor.state.restoreDevice(device, from: bytes, now: wallClock)
                processor.books[device] = DeviceBook(
                    appliedThrough: restored.appliedThrough, changed: false, live: false, scheduled: false,
                    writtenWatermark: processor.state.aggregator.devices[device]?.watermark ?? .min)
                processor.restoredThrough = max(processor.restoredThrough, restored.appliedThrough)
                if let arrival = processor.state.aggregator.devices[device]?.lastArrival, arrival != .min {
                    // The partition record may be older than a device record (see apply).
                    processor.state.maxArrivedAt = max(processor.state.maxArrivedAt ?? .min, arrival)
                }
                if !restored.outputs.isEmpty {
                    processor.markChanged(device)
                    outputs += restored.outputs
                }
            } catch {
                unreadable.append("\(device): \(error)")
            }
        }
        if !outputs.isEmpty {
            processor.dirty = true
            processor.snapshotRequired = true
        }
        return (processor, outputs, unreadable)
    }

    /// The partition's clock (epoch ms): the newest arrival time applied plus the time elapsed
    /// here since. While the stage keeps up it is the wall clock; while it replays a backlog
    /// (after a restart or rebalance) it follows the backlog's arrival times, so the stage's own
    /// downtime does not look like silence of the devices. `nil` before any record.
    func clock(now: ContinuousClock.Instant) -> Int64? {
        guard let base = state.maxArrivedAt else { return nil }
        let (seconds, attoseconds) = (now - clockStarted).components
        return base + seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Decides whether `offset` is applied, skipped, or reveals a gap.
    func admission(of offset: Int64) -> Admission {
        guard let next = state.nextOffset else { return .apply }
        if offset == next { return .apply }
        if offset < next { return .duplicate }
        return .gap(next)
    }

    /// Records that `device` changed since the last snapshot (and, with `offset`, that its
    /// reading at `offset` is in the state).
    mutating func markChanged(_ device: DeviceID, offset: Int64? = nil, live: Bool = false) {
        let (newlyChanged, toSchedule) = Self.update(
            &books[device, default: DeviceBook()], offset: offset, live: live && liveUpdates)
        if newlyChanged { changedDevices.append(device) }
        if toSchedule { liveSoon.append(device) }
    }

    private static func update(_ book: inout DeviceBook, offset: Int64?, live: Bool) -> (changed: Bool, schedule: Bool) {
        if let offset { book.appliedThrough = offset }
        let result = (!book.changed, live && !book.scheduled)
        book.changed = true
        if live {
            book.live = true
            book.scheduled = true
        }
        return result
    }

    /// Applies a readings record (its offset admitted) and returns the outputs it caused, or `nil`
    /// when the device's state already holds it: a snapshot's device records are written before
    /// its partition record, so after a crash between the two a device can be ahead of the
    /// partition's `nextOffset`.
    mutating func apply(_ record: KafkaConsumerRecord, arrivedAt: Int64) -> [WindowingOutput]? {
        state.nextOffset = record.offset + 1
        pendingSeek = nil
        dirty = true
        let reading: Reading
        do {
            reading = try ReadingRecord.decode(record.value)
        } catch {
            advanceClock(arrivedAt: arrivedAt)
            return [.deadLetter(original: record, reason: RejectionReason.badRecord.rawValue)]
        }
        if record.offset <= restoredThrough, let book = books[reading.device], record.offset <= book.appliedThrough {
            return nil
        }
        advanceClock(arrivedAt: arrivedAt)
        var outputs: [WindowingOutput] = []
        let result = state.aggregator.ingest(reading, arrivedAt: arrivedAt)
        for stats in result.closed { outputs.append(.stats(stats)) }
        if let rejection = result.rejection {
            outputs.append(.deadLetter(original: record, reason: rejection.reason.rawValue))
        }
        markChanged(reading.device, offset: record.offset, live: result.rejection == nil)
        for transition in state.evaluator.evaluate(reading, arrivedAt: arrivedAt) { outputs.append(.alert(transition)) }
        return outputs
    }

    private mutating func advanceClock(arrivedAt: Int64) {
        if arrivedAt >= state.maxArrivedAt ?? .min {
            state.maxArrivedAt = arrivedAt
            clockStarted = .now
        }
    }

    /// Applies the partition's clock (``clock(now:)``): closes windows of silent devices, fires
    /// offline rules.
    mutating func advance(now: ContinuousClock.Instant) -> [WindowingOutput] {
        guard let now = clock(now: now) else { return [] }
        var outputs: [WindowingOutput] = []
        for stats in state.aggregator.advance(now: now) {
            markChanged(stats.device)
            outputs.append(.stats(stats))
        }
        for transition in state.evaluator.advance(now: now) {
            markChanged(transition.device)
            outputs.append(.alert(transition))
        }
        if !outputs.isEmpty {
            dirty = true
            snapshotRequired = true
        }
        return outputs
    }

    /// Live statistics of the open windows of the devices whose update is due: at most one update
    /// per device and `interval`, the first at the tick after a reading that follows a quiet
    /// interval, the next `interval` after the previous one if more readings came. Each device
    /// keeps its own rhythm, so the updates of a fleet spread over the interval instead of
    /// leaving in one burst.
    mutating func dueOpenStatistics(now: ContinuousClock.Instant, interval: Duration) -> [WindowingOutput] {
        var due = liveSoon
        liveSoon.removeAll(keepingCapacity: true)
        while let next = liveSchedule.first, next.due <= now {
            due.append(next.device)
            liveSchedule.removeFirst()
        }
        var outputs: [WindowingOutput] = []
        for device in due {
            guard let book = books[device] else { continue }
            if book.live {
                books[device]?.live = false
                for stats in state.aggregator.openStatistics(device: device) { outputs.append(.stats(stats)) }
                liveSchedule.append((now + interval, device))
            } else {
                books[device]?.scheduled = false
            }
        }
        return outputs
    }

    /// Acknowledges alert `id` if this partition holds it.
    mutating func acknowledge(id: String, at ts: Int64, by name: String?) -> AlertTransition? {
        guard let transition = state.evaluator.acknowledge(id: id, at: ts, by: name) else { return nil }
        markChanged(transition.device)
        dirty = true
        snapshotRequired = true
        return transition
    }

    /// The records of a snapshot: every changed device (every device when `full`) and the
    /// partition record. Marks the state as written (call it only when the records are produced
    /// before anything else changes the state).
    mutating func takeSnapshot(now: ContinuousClock.Instant, full: Bool) -> Snapshot {
        // The clock moves watermarks of silent devices without outputs; such a device changed too.
        for (device, deviceState) in state.aggregator.devices
        where deviceState.watermark != books[device]?.writtenWatermark ?? .min {
            markChanged(device)
        }
        let devices = full ? Array(books.keys) : changedDevices
        var records: [(key: String, value: [UInt8]?)] = []
        records.reserveCapacity(devices.count)
        for device in devices {
            guard var book = books[device] else { continue }
            records.append(
                (
                    StateRecords.deviceKey(topic: state.topic, partition: state.partition, device: device),
                    state.deviceRecord(device, appliedThrough: book.appliedThrough)
                ))
            book.changed = false
            book.writtenWatermark = state.aggregator.devices[device]?.watermark ?? .min
            books[device] = book
        }
        changedDevices.removeAll(keepingCapacity: true)
        dirty = false
        snapshotRequired = false
        lastSnapshot = now
        if full { lastFullSnapshot = now }
        return Snapshot(
            devices: records,
            partition: PartitionRecord(nextOffset: state.nextOffset, maxArrivedAt: state.maxArrivedAt).encoded(),
            coveredThrough: state.nextOffset.map { $0 - 1 })
    }
}
