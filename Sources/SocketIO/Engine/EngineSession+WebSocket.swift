import NIOConcurrencyHelpers
import NIOCore

extension EngineIOSession {
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

    /// Asks for the frames WebSocket `webSocketID` should write next: `waiter` is called once,
    /// right away when frames are queued (or the WebSocket must close, with nil), otherwise when
    /// the next frames are queued. A probing WebSocket gets nothing until its upgrade completes.
    /// The transport asks again only after it has written what it got (its write capacity is the
    /// back-pressure; the send-queue caps apply meanwhile).
    func requestFrames(webSocketID: Int, _ waiter: @escaping EngineFrameWaiter) {
        enum Decision { case stop, frames([EngineFrame]), wait(EngineFrameWaiter?) }
        let decision = state.withLockedValue { state -> Decision in
            let active = state.activeWebSocket == webSocketID
            let probing = state.upgrade == .probing(webSocketID) || state.upgrade == .probed(webSocketID)
            if state.closed || (!active && !probing) { return .stop }
            if active && !state.outbox.isEmpty { return .frames(state.drain()) }
            let replaced = state.writerWaiter
            state.writerWaiter = waiter
            return .wait(replaced)
        }
        switch decision {
        case .stop: waiter(nil)
        case .frames(let frames): waiter(frames)
        case .wait(let replaced): replaced?(nil)
        }
    }

    /// Drops WebSocket `webSocketID`'s pending request for frames (its transport is ending).
    func cancelFrameRequest() -> EngineFrameWaiter? {
        state.withLockedValue { state in
            defer { state.writerWaiter = nil }
            return state.writerWaiter
        }
    }

    /// Frames for WebSocket `webSocketID` to write; nil when it must close (async transports).
    func nextFrames(webSocketID: Int) async -> [EngineFrame]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[EngineFrame]?, Never>) in
                requestFrames(webSocketID: webSocketID) { continuation.resume(returning: $0) }
            }
        } onCancel: {
            cancelFrameRequest()?(nil)
        }
    }

    /// WebSocket `webSocketID` ended or gave up its upgrade: close the session if it was the
    /// transport, otherwise polling simply continues.
    func webSocketEnded(webSocketID: Int) {
        let result = state.withLockedValue { state -> (Bool, EngineFrameWaiter?) in
            if state.upgrade == .probing(webSocketID) || state.upgrade == .probed(webSocketID) {
                state.upgrade = .none
                let waiter = state.writerWaiter
                state.writerWaiter = nil
                return (false, waiter)
            }
            return (state.activeWebSocket == webSocketID, nil)
        }
        result.1?(nil)
        if result.0 { close(reason: .transportClose) }
    }
}
