import DequeModule
import Dispatch
import NIOConcurrencyHelpers

/// State shared by the consumer, its poll thread, its rebalance callback and its record
/// sequence.
final class ConsumerShared: Sendable {
    let state: NIOLockedValueBox<ConsumerStateMachine>
    let rebalanceContinuation: AsyncStream<KafkaRebalanceEvent>.Continuation
    /// Asks the poll thread to look at its state now (`rd_kafka_queue_yield`); set once the
    /// handle exists.
    let wakePoller = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    /// The poll thread waits on this while the buffer is full.
    let parked = DispatchSemaphore(value: 0)

    init(maxBuffered: Int, rebalanceContinuation: AsyncStream<KafkaRebalanceEvent>.Continuation) {
        self.state = NIOLockedValueBox(ConsumerStateMachine(maxBuffered: maxBuffered))
        self.rebalanceContinuation = rebalanceContinuation
    }

    func wake() {
        parked.signal()
        wakePoller.withLockedValue { $0 }?()
    }

    func requestClose() {
        if state.withLockedValue({ $0.requestClose() }) {
            wake()
        }
    }

    /// The next records for the app, or `nil` once the consumer is closed or the task cancelled.
    func nextBatch() async -> Deque<PolledMessage>? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: ConsumerStateMachine.Reader) in
                if Task.isCancelled {
                    continuation.resume(returning: nil)
                    return
                }
                switch state.withLockedValue({ $0.next(continuation) }) {
                case .records(let records, let wakePoller):
                    if wakePoller { wake() }
                    continuation.resume(returning: records)
                case .finished:
                    continuation.resume(returning: nil)
                case .wait:
                    break
                }
            }
        } onCancel: {
            state.withLockedValue { $0.cancelReader() }?.resume(returning: nil)
        }
    }
}

/// The records a ``KafkaConsumer`` reads, as an `AsyncSequence`. Iterate it from one task.
///
/// Buffering is bounded: when `maxBufferedRecords` wait unread, the consumer stops polling
/// librdkafka (whose own prefetch queue is bounded by `queued.max.messages.kbytes`) until the
/// app reads them. Leaving the `for await` loop (or cancelling its task) closes the consumer:
/// stored offsets are committed, the group is left, and `run()` returns.
public struct KafkaConsumerRecords: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerRecord
    public typealias Failure = Never

    let shared: ConsumerShared
    let handle: RDKafkaHandle

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lifetime: IteratorLifetime(shared: shared, handle: handle))
    }

    /// Iterates the records; closes the consumer when dropped.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = KafkaConsumerRecord
        public typealias Failure = Never

        @usableFromInline let lifetime: IteratorLifetime

        init(lifetime: IteratorLifetime) {
            self.lifetime = lifetime
        }

        // Inlinable so that the common case, a record already handed over, costs the caller no
        // cross-module async call.
        @inlinable
        public mutating func next() async -> KafkaConsumerRecord? {
            if let record = lifetime.popRecord() { return record }
            return await lifetime.refill(isolation: nil)
        }

        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async -> KafkaConsumerRecord? {
            if let record = lifetime.popRecord() { return record }
            return await lifetime.refill(isolation: actor)
        }
    }

    /// The iterator's state: the records of the last batch handed over by the poll thread,
    /// copied out of librdkafka's buffers in one pass when the batch arrives (and its messages
    /// destroyed right away), then read one by one. Holds the client handle so that it outlives
    /// the messages while they are copied, and closes the consumer when the last copy of the
    /// iterator goes away.
    ///
    /// Used by one task at a time (the iterating one), hence `@unchecked Sendable`.
    @usableFromInline
    final class IteratorLifetime: @unchecked Sendable {
        let shared: ConsumerShared
        let handle: RDKafkaHandle
        private var records = Deque<KafkaConsumerRecord>()

        init(shared: ConsumerShared, handle: RDKafkaHandle) {
            self.shared = shared
            self.handle = handle
        }

        deinit {
            shared.requestClose()
        }

        @usableFromInline
        func popRecord() -> KafkaConsumerRecord? {
            records.popFirst()
        }

        @usableFromInline
        func refill(isolation actor: isolated (any Actor)?) async -> KafkaConsumerRecord? {
            guard let messages = await shared.nextBatch() else { return nil }
            records.reserveCapacity(messages.count)
            for message in messages {
                records.append(message.toRecord())
            }
            return popRecord()
        }
    }
}
