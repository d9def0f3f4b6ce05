/// The records a ``KafkaConsumer`` reads, as an `AsyncSequence` of zero-copy batches (each as
/// many records as the poll thread had ready, bounded by `maxBufferedRecords`). Iterate it from
/// one task, and use either this or ``KafkaConsumer/records`` for a consumer, not both.
///
/// Leaving the `for await` loop (or cancelling its task) closes the consumer, as with
/// ``KafkaConsumerRecords``.
public struct KafkaConsumerBatches: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerBatch
    public typealias Failure = Never

    let shared: ConsumerShared
    let handle: RDKafkaHandle

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(lifetime: Lifetime(shared: shared, handle: handle))
    }

    /// Iterates the batches; closes the consumer when dropped.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = KafkaConsumerBatch
        public typealias Failure = Never

        let lifetime: Lifetime

        public mutating func next() async -> KafkaConsumerBatch? {
            await lifetime.next()
        }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> KafkaConsumerBatch? {
            await lifetime.next()
        }
    }

    /// Closes the consumer when the last copy of the iterator goes away.
    final class Lifetime: Sendable {
        let shared: ConsumerShared
        let handle: RDKafkaHandle

        init(shared: ConsumerShared, handle: RDKafkaHandle) {
            self.shared = shared
            self.handle = handle
        }

        deinit {
            shared.requestClose()
        }

        func next() async -> KafkaConsumerBatch? {
            guard let messages = await shared.nextBatch() else { return nil }
            return KafkaConsumerBatch(messages: messages, handle: handle)
        }
    }
}
