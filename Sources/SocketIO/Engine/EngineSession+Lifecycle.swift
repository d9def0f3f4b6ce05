import NIOConcurrencyHelpers
import NIOCore

extension EngineIOSession {
    // MARK: - Heartbeat (close and inbound dispatch follow)

    func startHeartbeat() {
        schedulePing()
    }

    func schedulePing() {
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

    func firePing() {
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

    func receivedPong() {
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
        taken.writerWaiter?(nil)
        owner.sessionClosed(self, reason: reason)
    }

    // MARK: - Inbound

    /// Handles one decoded packet from either transport. Throws to close with `parse error`.
    func receive(_ packet: EngineInbound) async throws {
        if let message = try receiveControl(packet) {
            try await owner.handlers.received(self, message)
        }
    }

    /// Handles a packet that needs no application code (ping, pong, close, noop) at once and
    /// returns the message of a message packet, which the caller hands to `receive(_:)`'s
    /// handler. Throws to close with `parse error`.
    func receiveControl(_ packet: EngineInbound) throws(EngineDecodeError) -> EngineIOMessage? {
        switch packet {
        case .pong:
            receivedPong()
        case .ping(let data):
            enqueue([.control(.pong, data)])
        case .message(let message):
            return message
        case .close:
            close(reason: .transportClose)
        case .noop:
            break
        case .upgrade:
            throw EngineDecodeError(reason: "unexpected upgrade packet")
        }
        return nil
    }
}
