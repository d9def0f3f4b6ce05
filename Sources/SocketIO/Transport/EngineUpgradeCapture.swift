import NIOConcurrencyHelpers

/// What an `EngineIOServer` decided for a WebSocket upgrade request: the server, the opening
/// request, and the polling session the WebSocket upgrades (nil for a new session).
struct EngineWebSocketPlan: Sendable {
    let server: EngineIOServer
    let handshake: EngineIOHandshake
    let session: EngineIOSession?
}

/// Carries an accepted upgrade's plan out of the router: `EngineIOUpgradeChannel` routes the
/// upgrade request with a capture set, and the `EngineIOServer` that accepts it records its
/// plan there instead of installing an async WebSocket handler.
final class EngineUpgradeCapture: Sendable {
    @TaskLocal static var current: EngineUpgradeCapture?

    private let box = NIOLockedValueBox<EngineWebSocketPlan?>(nil)

    var plan: EngineWebSocketPlan? {
        get { box.withLockedValue { $0 } }
        set { box.withLockedValue { $0 = newValue } }
    }
}
