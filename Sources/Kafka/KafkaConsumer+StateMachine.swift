import DequeModule

/// The consumer's shared state, kept in a lock; methods return what to do, and the caller does
/// it (resume continuations, call librdkafka) after releasing the lock.
struct ConsumerStateMachine {
    enum Lifecycle {
        case initial, running, closing, closed
    }

    typealias Reader = CheckedContinuation<Deque<PolledMessage>?, Never>

    /// Work that must run on the poll thread, with its failure path for when it cannot.
    struct Command {
        let run: @Sendable () -> Void
        let fail: @Sendable (KafkaError) -> Void
    }

    let maxBuffered: Int
    private(set) var lifecycle = Lifecycle.initial
    private var buffer = Deque<PolledMessage>()
    private var reader: Reader?
    private var commands: [Command] = []
    /// The poll thread stopped polling because the buffer is full; wake it when records are read.
    private var pollerParked = false

    init(maxBuffered: Int) {
        self.maxBuffered = maxBuffered
    }

    mutating func startRunning() -> Bool {
        guard lifecycle == .initial else { return false }
        lifecycle = .running
        return true
    }

    /// Returns whether the poll thread must be woken.
    mutating func requestClose() -> Bool {
        switch lifecycle {
        case .initial, .running:
            lifecycle = .closing
            return true
        case .closing, .closed:
            return false
        }
    }

    // MARK: Records

    /// Takes polled records (leaving `records` empty); returns the waiting reader with the
    /// records to give it. Moves the records' storage when the buffer is empty.
    mutating func append(_ records: inout Deque<PolledMessage>) -> (Reader, Deque<PolledMessage>)? {
        guard !records.isEmpty else { return nil }
        if buffer.isEmpty {
            swap(&buffer, &records)
        } else {
            buffer.append(contentsOf: records)
            records.removeAll(keepingCapacity: true)
        }
        guard let reader else { return nil }
        self.reader = nil
        defer { buffer = [] }
        return (reader, buffer)
    }

    enum NextAction {
        case records(Deque<PolledMessage>, wakePoller: Bool)
        case finished
        case wait
    }

    /// The app wants records: hands over the whole buffer, or parks the reader.
    mutating func next(_ continuation: Reader) -> NextAction {
        if !buffer.isEmpty {
            defer { buffer = [] }
            let wake = pollerParked
            pollerParked = false
            return .records(buffer, wakePoller: wake)
        }
        if lifecycle == .closed || lifecycle == .closing {
            return .finished
        }
        reader = continuation
        return .wait
    }

    mutating func cancelReader() -> Reader? {
        defer { reader = nil }
        return reader
    }

    /// Removes buffered messages of partitions this consumer no longer reads or has moved;
    /// the caller destroys them.
    mutating func dropBuffered(_ partitions: Set<KafkaTopicPartition>) -> [PolledMessage] {
        guard !partitions.isEmpty else { return [] }
        let dropped = Array(buffer.filter { partitions.contains($0.topicPartition) })
        buffer.removeAll { partitions.contains($0.topicPartition) }
        return dropped
    }

    // MARK: Flow control

    /// On the poll thread: whether to stop polling (the buffer is full) until records are read.
    mutating func parkIfFull() -> Bool {
        guard buffer.count >= maxBuffered, lifecycle != .closing else { return false }
        pollerParked = true
        return true
    }

    /// Returns the dropped messages, for the caller to destroy.
    mutating func revoked(_ partitions: [KafkaTopicPartition]) -> [PolledMessage] {
        dropBuffered(Set(partitions))
    }

    // MARK: Commands

    /// Queues a command unless the consumer is closed.
    mutating func enqueue(_ command: Command) -> Bool {
        guard lifecycle != .closed else { return false }
        commands.append(command)
        return true
    }

    /// On the poll thread: the commands to run and whether to close.
    mutating func takeCommands() -> (commands: [Command], close: Bool) {
        defer { commands = [] }
        return (commands, lifecycle == .closing)
    }

    /// After close: the reader to finish, the commands to fail and the messages to destroy.
    mutating func closed() -> (Reader?, [Command], Deque<PolledMessage>) {
        lifecycle = .closed
        defer {
            reader = nil
            commands = []
            buffer = []
        }
        return (reader, commands, buffer)
    }
}
