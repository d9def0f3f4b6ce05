import DequeModule

/// A publish/subscribe/unsubscribe asked for by the application, carried out by the loop thread.
struct ClientRequest: Sendable {
    enum Kind: Sendable {
        case publish(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool)
        case subscribe(filter: String, qos: MQTTQoS)
        case unsubscribe(filter: String)
    }

    /// Key of the waiting continuation; `nil` for the client's own re-subscriptions.
    var id: UInt64?
    var kind: Kind
}

/// What a completed request returns.
enum RequestOutcome: Sendable {
    case published
    case subscribed(MQTTQoS)
    case unsubscribed
}

typealias RequestContinuation = CheckedContinuation<Result<RequestOutcome, MQTTError>, Never>
typealias ConsumerContinuation = CheckedContinuation<MQTTMessageBatch?, Never>

/// The state shared by the application's tasks and the loop thread, kept in a
/// `NIOLockedValueBox`. Methods only change state and return what to do; continuations are
/// resumed and the loop is woken by the caller after the lock is released.
struct ClientState {
    enum Lifecycle {
        case created
        case running
        /// Graceful shutdown: stop reading, finish the message sequence, wait (until `deadline`)
        /// for acknowledgements, then DISCONNECT.
        case shuttingDown(deadline: ContinuousClock.Instant)
        case stopped
    }

    private struct Buffered {
        var batch: MQTTMessageBatch
        var generation: UInt64
        /// Messages in the batch that need an acknowledgement (QoS 1 and 2).
        var acknowledgeable: Int
    }

    let deferred: Bool
    let bufferLimit: Int
    let maxReadAhead: Duration

    private(set) var lifecycle: Lifecycle = .created
    private(set) var isConnected = false
    private(set) var connections = 0
    /// Increases when a connection is lost, so batches of an earlier connection are recognised.
    private(set) var generation: UInt64 = 0

    private var buffer = Deque<Buffered>()
    private(set) var bufferedMessages = 0
    private var consumer: ConsumerContinuation?
    private var sequenceFinished = false
    private var consumerCancelled = false
    /// Batches of the current connection handed to the application and not yet acknowledged.
    private var unacknowledged: [UInt64: Int] = [:]
    private(set) var unacknowledgedMessages = 0
    /// Acknowledgeable messages of the current connection, buffered or unacknowledged: while
    /// non-zero (deferred mode) the loop writes nothing.
    private(set) var blockingMessages = 0
    /// Since when writes have been held back.
    private(set) var holdingSince: ContinuousClock.Instant?
    private var nextBatchID: UInt64 = 1
    /// The loop waits for acknowledgements or buffer space and wants a wake-up.
    private var loopWaiting = false
    /// Set once a message arrived or a subscription was asked for: then shutdown must not read.
    private(set) var isConsumer = false

    private enum Waiter {
        /// Id handed out, continuation not yet stored.
        case reserved
        /// Cancelled before the continuation was stored.
        case cancelled
        case waiting(RequestContinuation)
    }

    private(set) var pending = Deque<ClientRequest>()
    private var waiters: [UInt64: Waiter] = [:]
    private var nextRequestID: UInt64 = 1

    init(deferred: Bool, bufferLimit: Int, maxReadAhead: Duration) {
        self.deferred = deferred
        self.bufferLimit = bufferLimit
        self.maxReadAhead = maxReadAhead
    }

    // MARK: Lifecycle

    mutating func start() -> Bool {
        guard case .created = lifecycle else { return false }
        lifecycle = .running
        return true
    }

    enum ShutdownAction {
        case none
        /// Wake the loop; resume the waiting consumer with `nil` if there is one.
        case wakeLoop(finishConsumer: ConsumerContinuation?)
    }

    /// Starts a graceful shutdown (or, with `deadline` now, an immediate one).
    mutating func beginShutdown(deadline: ContinuousClock.Instant) -> ShutdownAction {
        switch lifecycle {
        case .created:
            lifecycle = .stopped
            sequenceFinished = true
            return .none
        case .running:
            lifecycle = .shuttingDown(deadline: deadline)
        case .shuttingDown(let current):
            if deadline < current { lifecycle = .shuttingDown(deadline: deadline) }
        case .stopped:
            return .none
        }
        sequenceFinished = true
        if buffer.isEmpty, let consumer {
            self.consumer = nil
            return .wakeLoop(finishConsumer: consumer)
        }
        return .wakeLoop(finishConsumer: nil)
    }

    /// The loop thread has ended: everything still waiting fails or ends.
    mutating func stopped() -> (consumer: ConsumerContinuation?, waiters: [RequestContinuation]) {
        lifecycle = .stopped
        isConnected = false
        sequenceFinished = true
        let consumer = buffer.isEmpty ? self.consumer : nil
        if consumer != nil { self.consumer = nil }
        let waiting = waiters.values.compactMap { waiter -> RequestContinuation? in
            if case .waiting(let continuation) = waiter { return continuation }
            return nil
        }
        waiters.removeAll()
        pending.removeAll()
        return (consumer, waiting)
    }

    // MARK: Connection (loop thread)

    mutating func connected() {
        isConnected = true
        connections += 1
    }

    /// The connection dropped: acknowledgements not yet written are gone with it, so nothing of
    /// this connection holds writes any more; the broker redelivers those messages.
    mutating func connectionLost() {
        isConnected = false
        generation += 1
        unacknowledged.removeAll()
        unacknowledgedMessages = 0
        blockingMessages = 0
        holdingSince = nil
    }

    // MARK: Loop plan (loop thread)

    struct Plan {
        var canRead: Bool
        var canWrite: Bool
        var requests: [ClientRequest]
        /// Set while shutting down.
        var shutdownDeadline: ContinuousClock.Instant?
        /// Time at which `canRead` changes by itself (end of read-ahead).
        var readAheadEnds: ContinuousClock.Instant?
        /// Since when writes are held back for acknowledgements, if they are.
        var holdingSince: ContinuousClock.Instant?
        var isConnected: Bool
        var isConsumer: Bool
    }

    /// Decides what the loop may do now; takes the pending requests when connected.
    mutating func plan(now: ContinuousClock.Instant) -> Plan {
        var plan = Plan(
            canRead: true, canWrite: true, requests: [], shutdownDeadline: nil, readAheadEnds: nil,
            holdingSince: deferred ? holdingSince : nil, isConnected: isConnected, isConsumer: isConsumer
        )
        if case .shuttingDown(let deadline) = lifecycle {
            plan.shutdownDeadline = deadline
            // Reading would queue acknowledgements for messages the application never sees.
            plan.canRead = !isConsumer
        } else if bufferedMessages + unacknowledgedMessages >= bufferLimit {
            plan.canRead = false
        } else if deferred && blockingMessages > 0 && !buffer.isEmpty {
            // Read ahead by one batch only: while the application works on one batch the next
            // waits in the buffer. This bounds how long writes are held to about `maxReadAhead`
            // plus the time to process two batches. (Reading on for the whole `maxReadAhead`
            // was tried in fb4a09e and reverted: in the full CI suite the keepalive test lost its
            // connection while acknowledgements were held.)
            plan.canRead = false
        } else if deferred, let holdingSince {
            let ends = holdingSince + maxReadAhead
            plan.canRead = now < ends
            if plan.canRead { plan.readAheadEnds = ends }
        }
        plan.canWrite = !deferred || blockingMessages == 0
        if isConnected && !pending.isEmpty {
            plan.requests = Array(pending)
            pending.removeAll()
        }
        loopWaiting = !plan.canRead || !plan.canWrite
        return plan
    }

    /// Whether writes are allowed now (re-checked right before writing).
    var canWrite: Bool { !deferred || blockingMessages == 0 }

    // MARK: Inbound messages

    /// Hands a batch read by the loop to the application (or the buffer).
    mutating func deliver(_ messages: [MQTTMessage], now: ContinuousClock.Instant, acknowledger: any BatchAcknowledger)
        -> (ConsumerContinuation, MQTTMessageBatch)?
    {
        isConsumer = true
        let acknowledgeable = deferred ? messages.reduce(0) { $0 + ($1.qos == .atMostOnce ? 0 : 1) } : 0
        let batch = MQTTMessageBatch(
            messages: messages, id: nextBatchID, receivedAt: now, acknowledger: acknowledgeable > 0 ? acknowledger : nil)
        nextBatchID += 1
        if acknowledgeable > 0 {
            blockingMessages += acknowledgeable
            if holdingSince == nil { holdingSince = now }
        }
        let entry = Buffered(batch: batch, generation: generation, acknowledgeable: acknowledgeable)
        if let consumer, buffer.isEmpty {
            self.consumer = nil
            hand(entry)
            return (consumer, batch)
        }
        buffer.append(entry)
        bufferedMessages += messages.count
        return nil
    }

    private mutating func hand(_ entry: Buffered) {
        guard entry.acknowledgeable > 0, entry.generation == generation else { return }
        unacknowledged[entry.batch.id] = entry.acknowledgeable
        unacknowledgedMessages += entry.acknowledgeable
    }

    enum NextAction {
        case resume(MQTTMessageBatch?, wakeLoop: Bool)
        case suspended
    }

    /// Takes the next buffered batch without waiting: `.resume(batch)`, `.resume(nil)` when the
    /// sequence has ended, `.suspended` when the caller would have to wait.
    mutating func pollNext() -> NextAction {
        if let entry = buffer.popFirst() {
            bufferedMessages -= entry.batch.count
            hand(entry)
            return .resume(entry.batch, wakeLoop: loopWaiting)
        }
        if sequenceFinished || consumerCancelled {
            return .resume(nil, wakeLoop: false)
        }
        return .suspended
    }

    /// The application asks for the next batch; the continuation is stored if it must wait.
    mutating func next(_ continuation: ConsumerContinuation) -> NextAction {
        let action = pollNext()
        if case .suspended = action {
            precondition(consumer == nil, "MQTTClient.messages supports one consumer at a time")
            consumer = continuation
        }
        return action
    }

    /// The consuming task was cancelled: the sequence ends for it.
    mutating func cancelConsumer() -> ConsumerContinuation? {
        consumerCancelled = true
        defer { consumer = nil }
        return consumer
    }

    /// The application acknowledged a batch; returns whether the loop should be woken.
    mutating func acknowledge(batch: UInt64) -> Bool {
        guard let count = unacknowledged.removeValue(forKey: batch) else { return false }
        unacknowledgedMessages -= count
        blockingMessages -= count
        if blockingMessages == 0 {
            holdingSince = nil
            return true
        }
        return loopWaiting && bufferedMessages + unacknowledgedMessages < bufferLimit
    }

    /// Whether anything handed out or buffered still waits for an acknowledgement.
    var isHoldingAcknowledgements: Bool { deferred && blockingMessages > 0 }

    // MARK: Requests

    /// Hands out a request id before the caller suspends, so that cancellation can find it.
    mutating func reserveRequest() -> UInt64 {
        let id = nextRequestID
        nextRequestID += 1
        waiters[id] = .reserved
        return id
    }

    enum EnqueueAction {
        case wakeLoop
        /// Queued behind others; their wake-up covers it.
        case queued
        case fail(MQTTError)
    }

    /// Queues an application request with its continuation.
    mutating func enqueue(_ id: UInt64, _ kind: ClientRequest.Kind, continuation: RequestContinuation) -> EnqueueAction {
        guard case .reserved = waiters.removeValue(forKey: id) else { return .fail(.cancelledError) }
        switch lifecycle {
        case .stopped, .shuttingDown:
            return .fail(.shutDownError)
        case .created, .running:
            break
        }
        if case .subscribe = kind { isConsumer = true }
        waiters[id] = .waiting(continuation)
        pending.append(ClientRequest(id: id, kind: kind))
        // The loop takes all pending requests at once: one wake-up per non-empty queue is enough.
        return pending.count == 1 ? .wakeLoop : .queued
    }

    /// Puts requests back at the front (their packets were lost with the connection).
    mutating func requeue(_ requests: [ClientRequest]) {
        for request in requests.reversed() {
            if let id = request.id, !isWaiting(id) { continue }  // cancelled meanwhile
            pending.prepend(request)
        }
    }

    /// Removes and returns the continuation of a request (completion or failure).
    mutating func takeWaiter(_ id: UInt64) -> RequestContinuation? {
        guard case .waiting(let continuation) = waiters[id] else { return nil }
        waiters.removeValue(forKey: id)
        return continuation
    }

    /// Cancellation: the request is dropped if it has not been sent yet.
    mutating func cancel(_ id: UInt64) -> RequestContinuation? {
        switch waiters[id] {
        case .reserved:
            waiters[id] = .cancelled
            return nil
        case .waiting(let continuation):
            waiters.removeValue(forKey: id)
            pending.removeAll { $0.id == id }
            return continuation
        case .cancelled, nil:
            return nil
        }
    }

    /// Whether a request of the application still waits for its outcome.
    func isWaiting(_ id: UInt64) -> Bool {
        if case .waiting = waiters[id] { return true }
        return false
    }
}
