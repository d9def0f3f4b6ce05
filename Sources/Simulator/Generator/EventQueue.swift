/// A binary min-heap of scheduled generator events with a total, deterministic order:
/// time, then rank (offline end, offline start, late delivery, sample), then device, then
/// insertion order.
struct EventQueue {
    enum Event {
        case announce
        case offlineEnd
        case offlineStart
        case delivery(Publication)
        case sample

        var rank: UInt8 {
            switch self {
            case .announce: 0
            case .offlineEnd: 1
            case .offlineStart: 2
            case .delivery: 3
            case .sample: 4
            }
        }
    }

    struct Entry {
        var time: Int64
        var rank: UInt8
        var device: Int
        var order: UInt64
        var event: Event

        func precedes(_ other: Entry) -> Bool {
            if time != other.time { return time < other.time }
            if rank != other.rank { return rank < other.rank }
            if device != other.device { return device < other.device }
            return order < other.order
        }
    }

    private var heap: [Entry] = []
    private var counter: UInt64 = 0

    var isEmpty: Bool { heap.isEmpty }
    var count: Int { heap.count }

    mutating func push(_ event: Event, at time: Int64, device: Int) {
        counter &+= 1
        heap.append(Entry(time: time, rank: event.rank, device: device, order: counter, event: event))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].precedes(heap[smallest]) { smallest = left }
            if right < heap.count, heap[right].precedes(heap[smallest]) { smallest = right }
            if smallest == parent { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
