import Foundation
import NIOConcurrencyHelpers
import SocketIO
import Telemetry

/// The hub's state behind a lock, shared by the Kafka consumer loop, the Socket.IO handlers
/// and the HTTP API. Methods return values (events, snapshots); broadcasting happens outside.
final class HubStore: Sendable {
    private let state: NIOLockedValueBox<HubState>

    init(configuration: HubConfiguration) {
        state = NIOLockedValueBox(HubState(limits: .init(configuration)))
    }

    func withState<T>(_ body: (inout HubState) -> T) -> T {
        state.withLockedValue { body(&$0) }
    }

    var limits: HubState.Limits { state.withLockedValue { $0.limits } }
}
