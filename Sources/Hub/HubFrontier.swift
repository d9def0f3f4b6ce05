import Kafka
import NIOConcurrencyHelpers
import SocketIO

/// The hub's broadcast frontier (see ``RecoveryOffset``): for every input partition, the next
/// offset whose events have not been broadcast yet. Advancing it and broadcasting a record's
/// events happen under one lock, so an offset handed to a client never claims a record whose
/// events that client has not been sent (the consumer loop and the housekeeping tick both
/// broadcast through here).
final class HubFrontier: Sendable {
    struct State {
        var layout: HubTopicLayout?
        var next: [[Int64]] = []
    }

    private let state = NIOLockedValueBox(State())
    /// False when connection state recovery is off: broadcasts then carry no offset.
    private let encodesOffsets: Bool

    init(encodesOffsets: Bool) {
        self.encodesOffsets = encodesOffsets
    }

    /// Sets the layout and the start offsets, once the consumer knows them.
    func start(layout: HubTopicLayout, next: [[Int64]]) {
        state.withLockedValue { state in
            state.layout = layout
            state.next = next
        }
    }

    /// The layout and the current frontier, or nil before the consumer started.
    func snapshot() -> (layout: HubTopicLayout, next: [[Int64]])? {
        state.withLockedValue { state in state.layout.map { ($0, state.next) } }
    }

    /// The offset for a broadcast without a source record (the current frontier).
    func currentOffset() -> String {
        state.withLockedValue { RecoveryOffset(source: nil, frontier: $0.next).encoded }
    }

    /// Emits `event` to `room` with the current frontier as its offset, under the lock (so that
    /// no record's events fall between the offset and the emit).
    func emitAtCurrentOffset(_ event: String, _ payload: JSONValue, to room: String, on io: SocketIOServer) {
        state.withLockedValue { state in
            guard state.layout != nil else { return }
            io.to(room).emit(event, [payload], offset: RecoveryOffset(source: nil, frontier: state.next).encoded)
        }
    }

    /// Moves the frontier past `record` (if it is one of the hub's input partitions) and
    /// broadcasts `events` with the resulting offset, both under the lock.
    func advance(past record: KafkaConsumerRecord?, broadcasting events: [HubEvent], on io: SocketIOServer) {
        state.withLockedValue { state in
            var source: RecordPosition?
            if let record, let layout = state.layout, let topic = layout.index(of: record.topic),
                record.partition >= 0, record.partition < state.next[topic].count
            {
                state.next[topic][record.partition] = max(state.next[topic][record.partition], record.offset + 1)
                source = RecordPosition(topic: topic, partition: record.partition, offset: record.offset)
            }
            guard !events.isEmpty else { return }
            let offset = encodesOffsets ? RecoveryOffset(source: source, frontier: state.next).encoded : nil
            for event in events {
                io.to(HubRooms.fleet).to(event.rooms).emit(event.name.rawValue, [event.payload], offset: offset)
            }
        }
    }
}
