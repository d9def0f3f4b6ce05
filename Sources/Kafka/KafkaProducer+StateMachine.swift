/// The producer's shared state, kept in a lock; methods return what to do, and the caller does
/// it (resume continuations, call librdkafka) after releasing the lock.
struct ProducerStateMachine {
    enum Lifecycle {
        case initial, running, stopping, stopped
    }

    enum CapacityOutcome: Sendable {
        case retry
        case stop(KafkaError)
    }

    typealias Waiter = CheckedContinuation<CapacityOutcome, Never>

    private(set) var lifecycle = Lifecycle.initial
    /// Bumped by the poll thread whenever delivery reports freed queue space.
    private(set) var capacityGeneration: UInt64 = 0
    private var waiters: [UInt64: Waiter] = [:]
    private var nextWaiterID: UInt64 = 0
    /// `send` calls between `beginSend` and `endSend` (still enqueuing).
    private var activeSenders = 0
    /// Batches awaiting delivery reports, failed if shutdown gives up on them.
    private var outstanding: [ObjectIdentifier: DeliveryBatch] = [:]

    mutating func startRunning() -> Bool {
        guard lifecycle == .initial else { return false }
        lifecycle = .running
        return true
    }

    /// Stops accepting sends; returns the waiters to resume with `.stop`.
    mutating func requestStop() -> [Waiter] {
        switch lifecycle {
        case .initial, .running:
            lifecycle = .stopping
        case .stopping, .stopped:
            break
        }
        defer { waiters = [:] }
        return Array(waiters.values)
    }

    mutating func beginSend(_ batch: DeliveryBatch) -> Bool {
        guard lifecycle == .initial || lifecycle == .running else { return false }
        activeSenders += 1
        outstanding[ObjectIdentifier(batch)] = batch
        return true
    }

    mutating func endSend() {
        activeSenders -= 1
    }

    mutating func finishedBatch(_ batch: DeliveryBatch) {
        outstanding[ObjectIdentifier(batch)] = nil
    }

    /// Registers a waiter for queue space unless space was freed since `seen`.
    mutating func waitForCapacity(seen: UInt64, id: UInt64, continuation: Waiter) -> CapacityOutcome? {
        if lifecycle == .stopping || lifecycle == .stopped {
            return .stop(.shutDown("Sending a record"))
        }
        if capacityGeneration != seen { return .retry }
        waiters[id] = continuation
        return nil
    }

    mutating func makeWaiterID() -> UInt64 {
        nextWaiterID += 1
        return nextWaiterID
    }

    mutating func cancelWaiter(id: UInt64) -> Waiter? {
        waiters.removeValue(forKey: id)
    }

    /// After a poll: returns the waiters to resume (space may be free) and whether the loop ends.
    mutating func polled(events: Int32) -> (waiters: [Waiter], exit: Bool) {
        var resumed: [Waiter] = []
        if events > 0 {
            capacityGeneration &+= 1
            if !waiters.isEmpty {
                resumed = Array(waiters.values)
                waiters = [:]
            }
        }
        return (resumed, lifecycle == .stopping && activeSenders == 0)
    }

    /// After the final flush: the batches to fail.
    mutating func stopped() -> [DeliveryBatch] {
        lifecycle = .stopped
        defer { outstanding = [:] }
        return Array(outstanding.values)
    }
}
