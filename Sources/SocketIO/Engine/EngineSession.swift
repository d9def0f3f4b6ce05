import DequeModule
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// The transport a session currently uses.
public enum EngineIOTransport: String, Sendable, Hashable {
    case polling
    case websocket
}

/// Why a session closed. The raw values are the reference server's reason strings, plus
/// `send queue overflow` for the slow-client policy.
public struct EngineIOCloseReason: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The client closed the connection or sent a close packet.
    public static let transportClose = EngineIOCloseReason("transport close")
    /// The transport failed (for example overlapping polls).
    public static let transportError = EngineIOCloseReason("transport error")
    /// No pong within `pingTimeout`.
    public static let pingTimeout = EngineIOCloseReason("ping timeout")
    /// The client sent something that could not be decoded, or too much of it.
    public static let parseError = EngineIOCloseReason("parse error")
    /// The server closed the session.
    public static let forcedClose = EngineIOCloseReason("forced close")
    /// The server is shutting down.
    public static let serverShuttingDown = EngineIOCloseReason("server shutting down")
    /// The client did not read fast enough and its send queue passed its cap.
    public static let sendQueueOverflow = EngineIOCloseReason("send queue overflow")

    public var description: String { rawValue }
}

/// What the client sent when it opened the session.
public struct EngineIOHandshake: Sendable {
    /// Request headers of the handshake request.
    public let headers: HTTPFields
    /// Decoded query parameters (first value wins).
    public let query: [String: String]
    /// Request path and query as received.
    public let url: String
    /// The transport that opened the session.
    public let transport: EngineIOTransport
}

/// A WebSocket transport's one-shot request for frames: called once with the queued frames,
/// or with nil when the WebSocket must close. It may be called on any thread.
typealias EngineFrameWaiter = @Sendable ([EngineFrame]?) -> Void

/// One Engine.IO session: a client across its polling requests and WebSocket.
///
/// All state sits in one lock; methods compute an action under the lock and perform it
/// (continuation resumes, timer cancels, callbacks) after releasing it.
public final class EngineIOSession: Sendable {
    /// The session id (`sid`).
    public let id: String
    /// The opening request.
    public let handshake: EngineIOHandshake
    let configuration: EngineIOConfiguration
    let eventLoop: any EventLoop
    let owner: EngineIOServer
    let state: NIOLockedValueBox<State>

    enum Upgrade: Equatable {
        case none
        case probing(Int)
        case probed(Int)
    }

    struct State {
        var closed = false
        var transport: EngineIOTransport
        var upgrade = Upgrade.none
        var activeWebSocket: Int?
        var outbox = Deque<EngineFrame>()
        var outboxBytes = 0
        var pollWaiter: CheckedContinuation<[EngineFrame], Never>?
        /// The WebSocket transport waiting for frames (called once, with nil when it must close).
        var writerWaiter: EngineFrameWaiter?
        var postActive = false
        var pingTimer: Scheduled<Void>?
        var timeoutTimer: Scheduled<Void>?
        var pongDeadline: NIODeadline?
        /// When the next ping is due (its timer may fire late on a loaded machine).
        var pingDueAt: NIODeadline?

        mutating func drain() -> [EngineFrame] {
            let frames = Array(outbox)
            outbox.removeAll(keepingCapacity: true)
            outboxBytes = 0
            return frames
        }

        /// Hands queued frames to whichever transport is waiting for them.
        mutating func deliverable() -> Delivery? {
            guard !outbox.isEmpty else { return nil }
            switch transport {
            case .polling:
                guard upgrade == .none, let waiter = pollWaiter else { return nil }
                pollWaiter = nil
                return .poll(waiter, drain())
            case .websocket:
                guard let waiter = writerWaiter else { return nil }
                writerWaiter = nil
                return .writer(waiter, drain())
            }
        }
    }

    enum Delivery {
        case poll(CheckedContinuation<[EngineFrame], Never>, [EngineFrame])
        case writer(EngineFrameWaiter, [EngineFrame])

        func run() {
            switch self {
            case .poll(let waiter, let frames): waiter.resume(returning: frames)
            case .writer(let waiter, let frames): waiter(frames)
            }
        }
    }

    init(
        id: String, handshake: EngineIOHandshake, configuration: EngineIOConfiguration,
        eventLoop: any EventLoop, owner: EngineIOServer, webSocketID: Int?
    ) {
        self.id = id
        self.handshake = handshake
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.owner = owner
        var state = State(transport: handshake.transport)
        state.activeWebSocket = webSocketID
        self.state = NIOLockedValueBox(state)
    }

    /// The current transport.
    public var transport: EngineIOTransport { state.withLockedValue { $0.transport } }

    /// True while a long-polling GET is waiting for packets (for tests and diagnostics).
    var hasPendingPoll: Bool { state.withLockedValue { $0.pollWaiter != nil } }

    /// True once the session has closed.
    public var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Queues a message for the client. Returns false if the session is closed (or just got
    /// closed because its send queue overflowed).
    @discardableResult
    public func send(_ message: EngineIOMessage) -> Bool {
        enqueue([.message(message)])
    }

    /// Closes the session from the server side (reason `forced close`).
    public func close() {
        close(reason: .forcedClose)
    }

    // MARK: - Queue

    /// Queues frames, applying the send-queue caps: overflow closes the session.
    @discardableResult
    func enqueue(_ frames: [EngineFrame]) -> Bool {
        enum Action { case closed, overflow, deliver(Delivery?) }
        let action: Action = state.withLockedValue { state in
            if state.closed { return .closed }
            var bytes = 0
            for frame in frames { bytes += frame.byteCount }
            if state.outbox.count + frames.count > configuration.maxQueuedPackets
                || state.outboxBytes + bytes > configuration.maxQueuedBytes
            {
                return .overflow
            }
            state.outbox.append(contentsOf: frames)
            state.outboxBytes += bytes
            return .deliver(state.deliverable())
        }
        switch action {
        case .closed: return false
        case .overflow:
            close(reason: .sendQueueOverflow)
            return false
        case .deliver(let delivery):
            delivery?.run()
            return true
        }
    }

}

extension Duration {
    var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
