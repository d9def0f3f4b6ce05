import NIOConcurrencyHelpers
import NIOCore

extension EngineIOSession {
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

    func scheduleUpgradeNoop() {
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
}
