import DequeModule
import NIOConcurrencyHelpers

/// Inbound packets waiting for the application, in order (shared by the connection's event loop
/// and its delivery task).
final class EngineInboundQueue: Sendable {
    private struct State {
        var packets = Deque<EngineInbound>()
        var running = false
    }

    private let state = NIOLockedValueBox(State())

    /// True while a delivery task runs.
    var isBusy: Bool { state.withLockedValue { $0.running } }

    /// Appends a packet; true when the caller must start the delivery task.
    func push(_ packet: EngineInbound) -> Bool {
        state.withLockedValue { state in
            state.packets.append(packet)
            if state.running { return false }
            state.running = true
            return true
        }
    }

    /// The next packet, or nil (and the delivery task ends) when none is left.
    func next() -> EngineInbound? {
        state.withLockedValue { state in
            if let packet = state.packets.popFirst() { return packet }
            state.running = false
            return nil
        }
    }
}
