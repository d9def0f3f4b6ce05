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
/// Ownership: the `send` call holds the batch strongly until every record has an outcome (its
/// continuation resumes only then), so librdkafka holds unretained pointers; the callback
/// touches the batch only before it completes the last outcome.
///
/// Concurrency: each record's outcome slot has one writer at a time, so a delivery report writes
/// its slot without a lock. Delivery reports and `failRemaining` run on the producer's poll
/// thread; `fail` runs on the sending task for records librdkafka never took (so it never reports
/// them), before the sender leaves the producer's state lock (`endSend`), which the poll thread
/// takes before `failRemaining`. `remaining` is an atomic countdown; whoever takes it to zero
/// resumes the waiting owner (`lock` only hands over the continuation), and that resumption
/// orders every slot write before the owner reads them.
final class DeliveryBatch: @unchecked Sendable {
    /// Plain data, so writing one costs no reference counting.
    struct Outcome {
        var done = false
        /// The failure is in `failures` (it happened before librdkafka took the record).
        var failed = false
        var error = RD_KAFKA_RESP_ERR_NO_ERROR
        var partition: Int32 = -1
        var offset: Int64 = -1
        var timestamp: Int64 = -1
    }

    let count: Int
    private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer>
    /// One writer per slot (see above); read by the owner after `wait()` returns.
    private let outcomes: UnsafeMutablePointer<Outcome>
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
        self.outcomes = .allocate(capacity: count)
        outcomes.initialize(repeating: Outcome(), count: count)
        slots.initialize(repeating: Unmanaged.passUnretained(self).toOpaque(), count: count)
    }

    deinit {
        outcomes.deinitialize(count: count)
        outcomes.deallocate()
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
        let index = slot - batch.slots
        var outcome = Outcome()
        outcome.error = message.pointee.err
        outcome.partition = message.pointee.partition
        outcome.offset = message.pointee.offset
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        outcome.timestamp = rd_kafka_message_timestamp(message, &timestampType)
        batch.complete(index, outcome)
    }

    /// Records a failure that happened before librdkafka took the record.
    func fail(_ index: Int, _ error: KafkaError) {
        guard !outcomes[index].done else { return }
        lock.withLock { failures[index] = error }
        var outcome = Outcome()
        outcome.failed = true
        complete(index, outcome)
    }

    /// Fails every record that has no outcome yet (shutdown gave up on them).
    func failRemaining(_ error: KafkaError) {
        for index in 0..<count {
            fail(index, error)
        }
    }

    private func complete(_ index: Int, _ outcome: Outcome) {
        guard !outcomes[index].done else { return }
        var outcome = outcome
        outcome.done = true
        outcomes[index] = outcome
        let (_, left) = remaining.subtract(1, ordering: .acquiringAndReleasing)
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

    /// The outcomes as results; call after `wait()`.
    func results(for records: [KafkaProducerRecord]) -> [Result<KafkaDeliveryReport, KafkaError>] {
        lock.withLock {
            (0..<count).map { index in
                let outcome = outcomes[index]
                if outcome.failed, let failure = failures[index] { return .failure(failure) }
                if outcome.error != RD_KAFKA_RESP_ERR_NO_ERROR {
                    return .failure(KafkaError(rdKafka: outcome.error, context: "Record to \(records[index].topic) was not delivered"))
                }
                return .success(
                    KafkaDeliveryReport(
                        topic: records[index].topic,
                        partition: Int(outcome.partition),
                        offset: outcome.offset,
                        timestamp: outcome.timestamp >= 0 ? outcome.timestamp : nil
                    )
                )
            }
        }
    }
}
