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
    private let state: NIOLockedValueBox<State>

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
        var writerWaiter: CheckedContinuation<[EngineFrame]?, Never>?
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
        case writer(CheckedContinuation<[EngineFrame]?, Never>, [EngineFrame])

        func run() {
            switch self {
            case .poll(let waiter, let frames): waiter.resume(returning: frames)
            case .writer(let waiter, let frames): waiter.resume(returning: frames)
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

    // MARK: - Heartbeat

    func startHeartbeat() {
        schedulePing()
    }

    private func schedulePing() {
        let due = NIODeadline.now() + configuration.pingInterval.timeAmount
        let timer = eventLoop.scheduleTask(deadline: due) { [self] in
            firePing()
        }
        let stale: Scheduled<Void>? = state.withLockedValue { state in
            if state.closed { return timer }
            let old = state.pingTimer
            state.pingTimer = timer
            state.pingDueAt = due
            return old
        }
        stale?.cancel()
    }

    private func firePing() {
        let deadline = NIODeadline.now() + configuration.pingTimeout.timeAmount
        let ok = state.withLockedValue { state -> Bool in
            guard !state.closed else { return false }
            state.pongDeadline = deadline
            state.pingDueAt = nil
            return true
        }
        guard ok else { return }
        let timer = eventLoop.scheduleTask(in: configuration.pingTimeout.timeAmount) { [self] in
            close(reason: .pingTimeout)
        }
        let stale = state.withLockedValue { state -> Scheduled<Void>? in
            if state.closed { return timer }
            let old = state.timeoutTimer
            state.timeoutTimer = timer
            return old
        }
        stale?.cancel()
        enqueue([.control(.ping)])
    }

    private func receivedPong() {
        let timer = state.withLockedValue { state -> Scheduled<Void>? in
            state.pongDeadline = nil
            let old = state.timeoutTimer
            state.timeoutTimer = nil
            return old
        }
        timer?.cancel()
        if timer != nil { schedulePing() }
    }

    /// Closes the session if its pong deadline has passed even though a timer has not fired
    /// yet (a busy machine runs timers late); returns true when the session is (now) closed.
    func checkExpired() -> Bool {
        let timeout = configuration.pingTimeout.timeAmount
        let expired = state.withLockedValue { state -> Bool? in
            if state.closed { return nil }
            let now = NIODeadline.now()
            if let deadline = state.pongDeadline { return deadline <= now }
            if let due = state.pingDueAt, due + timeout <= now { return true }
            return false
        }
        switch expired {
        case nil: return true
        case true?:
            close(reason: .pingTimeout)
            return true
        case false?: return false
        }
    }

    // MARK: - Close

    /// Closes the session once; later calls do nothing.
    func close(reason: EngineIOCloseReason) {
        let taken = state.withLockedValue { state -> State? in
            guard !state.closed else { return nil }
            let copy = state
            state.closed = true
            state.pollWaiter = nil
            state.writerWaiter = nil
            state.pingTimer = nil
            state.timeoutTimer = nil
            state.outbox.removeAll()
            state.outboxBytes = 0
            return copy
        }
        guard let taken else { return }
        taken.pingTimer?.cancel()
        taken.timeoutTimer?.cancel()
        // A client-initiated close ends a pending poll with a noop, a server close with a close
        // packet (as the reference server does).
        taken.pollWaiter?.resume(returning: [reason == .transportClose ? .control(.noop) : .control(.close)])
        taken.writerWaiter?.resume(returning: nil)
        owner.sessionClosed(self, reason: reason)
    }

    // MARK: - Inbound

    /// Handles one decoded packet from either transport. Throws to close with `parse error`.
    func receive(_ packet: EngineInbound) async throws {
        switch packet {
        case .pong:
            receivedPong()
        case .ping(let data):
            enqueue([.control(.pong, data)])
        case .message(let message):
            try await owner.handlers.received(self, message)
        case .close:
            close(reason: .transportClose)
        case .noop:
            break
        case .upgrade:
            throw EngineDecodeError(reason: "unexpected upgrade packet")
        }
    }

    // MARK: - Polling

    /// Waits for frames for a long-polling GET, or fails it.
    func poll() async -> Result<[EngineFrame], EngineIOError> {
        enum Decision { case fail(EngineIOError), duplicate, frames([EngineFrame]), wait, upgrading }
        if checkExpired() { return .failure(.unknownSessionID) }
        let frames: [EngineFrame]? = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[EngineFrame], Never>) in
                let decision = state.withLockedValue { state -> Decision in
                    if state.closed { return .fail(.unknownSessionID) }
                    if state.transport != .polling { return .fail(.badRequest) }
                    if state.pollWaiter != nil { return .duplicate }
                    if state.upgrade != .none {
                        // Upgrading: park the poll briefly; it ends with a noop (or fails if
                        // the upgrade completes meanwhile), as the reference's 100 ms check does.
                        state.pollWaiter = continuation
                        return .upgrading
                    }
                    if !state.outbox.isEmpty { return .frames(state.drain()) }
                    state.pollWaiter = continuation
                    return .wait
                }
                switch decision {
                case .fail, .duplicate: continuation.resume(returning: [])
                case .frames(let frames): continuation.resume(returning: frames)
                case .wait: break
                case .upgrading: scheduleUpgradeNoop()
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<[EngineFrame], Never>? in
                defer { state.pollWaiter = nil }
                return state.pollWaiter
            }
            waiter?.resume(returning: [.control(.noop)])
        }
        if let frames, !frames.isEmpty { return .success(frames) }
        // Empty: the request was refused. Work out why (outside the continuation).
        let why = state.withLockedValue { state -> EngineIOError? in
            if state.closed { return .unknownSessionID }
            if state.transport != .polling { return .badRequest }
            return nil
        }
        if let why { return .failure(why) }
        // Overlapping polls: the reference closes the session (transport error).
        close(reason: .transportError)
        return .failure(.badRequest)
    }

    private func scheduleUpgradeNoop() {
        eventLoop.scheduleTask(in: .milliseconds(100)) { [self] in
            let waiter = state.withLockedValue { state -> CheckedContinuation<[EngineFrame], Never>? in
                guard state.upgrade != .none else { return nil }
                defer { state.pollWaiter = nil }
                return state.pollWaiter
            }
            waiter?.resume(returning: [.control(.noop)])
        }
    }

    /// Marks the start of a long-polling POST; only one may run at a time.
    func beginPost() -> EngineIOError? {
        if checkExpired() { return .unknownSessionID }
        enum Decision { case ok, fail(EngineIOError), overlap }
        let decision = state.withLockedValue { state -> Decision in
            if state.closed { return .fail(.unknownSessionID) }
            if state.transport != .polling { return .fail(.badRequest) }
            if state.postActive { return .overlap }
            state.postActive = true
            return .ok
        }
        switch decision {
        case .ok: return nil
        case .fail(let error): return error
        case .overlap:
            close(reason: .transportError)
            return .badRequest
        }
    }

    func endPost() {
        state.withLockedValue { $0.postActive = false }
    }

    // MARK: - WebSocket

    /// Starts an upgrade probe on WebSocket `webSocketID`; false if the session cannot upgrade.
    func beginProbe(webSocketID: Int) -> Bool {
        state.withLockedValue { state in
            guard !state.closed, state.transport == .polling, state.upgrade == .none else { return false }
            state.upgrade = .probing(webSocketID)
            return true
        }
    }

    /// The client sent `2probe`: answer pending polls with a noop so the client can pause polling.
    func probeReceived(webSocketID: Int) -> Bool {
        let ok = state.withLockedValue { state -> Bool in
            guard !state.closed, state.upgrade == .probing(webSocketID) || state.upgrade == .probed(webSocketID)
            else { return false }
            state.upgrade = .probed(webSocketID)
            return true
        }
        // A pending poll gets its noop after 100 ms unless the upgrade completes first (then
        // it fails), like the reference server's upgrade check interval.
        if ok { scheduleUpgradeNoop() }
        return ok
    }

    /// The client sent `5`: WebSocket `webSocketID` becomes the transport.
    func completeUpgrade(webSocketID: Int) -> Bool {
        let result = state.withLockedValue {
            state -> (Bool, CheckedContinuation<[EngineFrame], Never>?, Delivery?) in
            guard !state.closed, state.upgrade == .probed(webSocketID) else { return (false, nil, nil) }
            state.upgrade = .none
            state.transport = .websocket
            state.activeWebSocket = webSocketID
            let poll = state.pollWaiter
            state.pollWaiter = nil
            return (true, poll, state.deliverable())
        }
        result.1?.resume(returning: [])  // the poll is answered with 400: the session moved to WebSocket
        result.2?.run()
        return result.0
    }

    /// True while WebSocket `webSocketID` is probing but has not completed the upgrade.
    func isProbing(webSocketID: Int) -> Bool {
        state.withLockedValue { $0.upgrade == .probing(webSocketID) || $0.upgrade == .probed(webSocketID) }
    }

    /// Frames for WebSocket `webSocketID` to write; nil when it must close. A probing
    /// WebSocket waits here until its upgrade completes.
    func nextFrames(webSocketID: Int) async -> [EngineFrame]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[EngineFrame]?, Never>) in
                enum Decision { case stop, frames([EngineFrame]), wait }
                let decision = state.withLockedValue { state -> Decision in
                    let active = state.activeWebSocket == webSocketID
                    let probing = state.upgrade == .probing(webSocketID) || state.upgrade == .probed(webSocketID)
                    if state.closed || (!active && !probing) { return .stop }
                    if active && !state.outbox.isEmpty { return .frames(state.drain()) }
                    state.writerWaiter = continuation
                    return .wait
                }
                switch decision {
                case .stop: continuation.resume(returning: nil)
                case .frames(let frames): continuation.resume(returning: frames)
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { state -> CheckedContinuation<[EngineFrame]?, Never>? in
                defer { state.writerWaiter = nil }
                return state.writerWaiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// WebSocket `webSocketID` ended or gave up its upgrade: close the session if it was the
    /// transport, otherwise polling simply continues.
    func webSocketEnded(webSocketID: Int) {
        let result = state.withLockedValue { state -> (Bool, CheckedContinuation<[EngineFrame]?, Never>?) in
            if state.upgrade == .probing(webSocketID) || state.upgrade == .probed(webSocketID) {
                state.upgrade = .none
                let waiter = state.writerWaiter
                state.writerWaiter = nil
                return (false, waiter)
            }
            return (state.activeWebSocket == webSocketID, nil)
        }
        result.1?.resume(returning: nil)
        if result.0 { close(reason: .transportClose) }
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
