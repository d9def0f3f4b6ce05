import CRdKafka
import NIOConcurrencyHelpers
import Synchronization

/// The records of one `send` call awaiting their delivery reports: one continuation per batch,
/// not per record.
///
/// Each record's message opaque (`_private`) is the address of its slot in `slots`; every slot
/// holds the batch's own address, so the delivery callback finds the batch and the record's
/// index without any per-record allocation.
///
/// Outcomes are written in the order they arrive, one after another in `log`, not at each
/// record's index: keyed records come back partition by partition, in an order unrelated to the
/// batch's, and writing each outcome at its index cost a cache miss per record on the poll
/// thread. `results(for:)` puts them back in the batch's order, once, on the owner's task.
///
/// Ownership: the `send` call holds the batch strongly until every record has an outcome (its
/// continuation resumes only then), so librdkafka holds unretained pointers; the callback
/// retains the batch while it completes an outcome.
///
/// Concurrency: a writer claims a log entry with the atomic `claimed` counter, writes it, then
/// counts it in `remaining` (acquire-release); whoever takes `remaining` to zero resumes the
/// waiting owner (`lock` only hands over the continuation), and that resumption orders every
/// entry before the owner reads them. Delivery reports and `failRemaining` run on the producer's
/// poll thread; `fail` runs on the sending task for records librdkafka never took (so it never
/// reports them), before the sender leaves the producer's state lock (`endSend`), which the poll
/// thread takes before `failRemaining`; so no record gets two outcomes.
final class DeliveryBatch: @unchecked Sendable {
    /// One record's outcome. Plain data, so writing one costs no reference counting.
    struct Entry {
        /// The record's index in the batch.
        var index: Int
        var error = RD_KAFKA_RESP_ERR_NO_ERROR
        /// The failure is in `failures` (it happened before librdkafka took the record).
        var failed = false
        var partition: Int32 = -1
        var offset: Int64 = -1
        var timestamp: Int64 = -1
    }

    let count: Int
    private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// Outcomes in arrival order; `claimed` entries are (being) written.
    private let log: UnsafeMutablePointer<Entry>
    private let claimed = Synchronization.Atomic<Int>(0)
    /// Records without an outcome yet.
    private let remaining: Synchronization.Atomic<Int>
    /// Guards `continuation` and `failures`.
    private let lock = NIOLock()
    private var continuation: CheckedContinuation<Void, Never>?
    /// Failures before librdkafka took a record, by index (rare).
    private var failures: [Int: KafkaError] = [:]

    init(count: Int) {
        self.count = count
        self.remaining = Synchronization.Atomic(count)
        self.slots = .allocate(capacity: count)
        self.log = .allocate(capacity: count)
        slots.initialize(repeating: Unmanaged.passUnretained(self).toOpaque(), count: count)
    }

    deinit {
        // Entry is plain data: the written entries need no deinitialization.
        log.deallocate()
        slots.deallocate()
    }

    /// The message opaque for record `index`.
    func opaque(for index: Int) -> UnsafeMutableRawPointer {
        UnsafeMutableRawPointer(slots + index)
    }

    /// Called from the delivery report callback (on the poll thread).
    static func deliver(opaque: UnsafeMutableRawPointer, message: UnsafePointer<rd_kafka_message_t>) {
        let slot = opaque.assumingMemoryBound(to: UnsafeMutableRawPointer.self)
        let batch = Unmanaged<DeliveryBatch>.fromOpaque(slot.pointee).takeUnretainedValue()
        var entry = Entry(index: slot - batch.slots)
        entry.error = message.pointee.err
        entry.partition = message.pointee.partition
        entry.offset = message.pointee.offset
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        entry.timestamp = rd_kafka_message_timestamp(message, &timestampType)
        batch.complete(entry)
    }

    /// Records a failure that happened before librdkafka took the record.
    func fail(_ index: Int, _ error: KafkaError) {
        lock.withLock { failures[index] = error }
        var entry = Entry(index: index)
        entry.failed = true
        complete(entry)
    }

    /// Fails every record that has no outcome yet (shutdown gave up on them). On the poll
    /// thread, once no sender is enqueuing and no delivery report will come.
    func failRemaining(_ error: KafkaError) {
        guard claimed.load(ordering: .acquiring) < count else { return }
        let positions = positionsByIndex()
        for index in 0..<count where positions[index] < 0 {
            fail(index, error)
        }
    }

    /// Where each record's entry is in the log, by record index (-1: no outcome yet). Small, so
    /// building it stays in cache.
    private func positionsByIndex() -> [Int] {
        var positions = [Int](repeating: -1, count: count)
        for position in 0..<min(claimed.load(ordering: .acquiring), count) {
            positions[log[position].index] = position
        }
        return positions
    }

    private func complete(_ entry: Entry) {
        let position = claimed.wrappingAdd(1, ordering: .relaxed).oldValue
        // Every record has exactly one outcome (see above); never write past the log.
        guard position < count else { return }
        (log + position).initialize(to: entry)
        let left = remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue
        guard left == 0 else { return }
        let finished: CheckedContinuation<Void, Never>? = lock.withLock {
            defer { continuation = nil }
            return continuation
        }
        finished?.resume()
    }

    /// Waits until every record has an outcome.
    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = lock.withLock {
                if remaining.load(ordering: .acquiring) == 0 { return true }
                self.continuation = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// The outcomes as results, in the order of `records`; call after `wait()`.
    func results(for records: [KafkaProducerRecord]) -> [Result<KafkaDeliveryReport, KafkaError>] {
        let positions = positionsByIndex()
        let failures = lock.withLock { self.failures }
        return (0..<count).map { index in
            let position = positions[index]
            guard position >= 0 else {
                return .failure(.shutDown("Delivering a record"))
            }
            let entry = log[position]
            if entry.failed, let failure = failures[index] { return .failure(failure) }
            if entry.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                return .failure(KafkaError(rdKafka: entry.error, context: "Record to \(records[index].topic) was not delivered"))
            }
            return .success(
                KafkaDeliveryReport(
                    topic: records[index].topic,
                    partition: Int(entry.partition),
                    offset: entry.offset,
                    timestamp: entry.timestamp >= 0 ? entry.timestamp : nil
                )
            )
        }
    }
}
