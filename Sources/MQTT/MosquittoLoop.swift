import CMosquitto
import Logging
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The client's network loop on its own thread: one libmosquitto handle, driven by poll(2) and
/// `mosquitto_loop_read` / `mosquitto_loop_misc` / `mosquitto_loop_write` with
/// `mosquitto_threaded_set(true)`, so that nothing is written except in the write phase.
///
/// Deferred acknowledgement works in barriers. libmosquitto queues the PUBACK of a QoS 1 message
/// before it calls the message callback, and a write flushes every queued packet (PUBACKs,
/// PINGREQ, PUBLISH, SUBSCRIBE) at once. So the loop reads a batch, hands it to the application
/// and then writes nothing until the application has acknowledged everything it was given. While
/// it waits it may read further batches for `maxReadAhead`, up to `bufferLimit` messages.
///
/// Thread confinement: every stored property is used only by the loop thread, inside `run()` and
/// inside the libmosquitto callbacks, which run on that thread within the loop calls. That is why
/// the class is `@unchecked Sendable` (it crosses into the `Thread` once).
///
/// Callback context ownership: `self` is passed to `mosquitto_new` unretained; the handle is
/// destroyed at the end of `run()`, before `run()` returns, and the thread's closure holds a
/// strong reference to `self` for that whole time.
final class MosquittoLoop: @unchecked Sendable {
    private struct Inflight {
        var request: ClientRequest
    }

    private let core: ClientCore
    private let configuration: MQTTConfiguration
    private var logger: Logger
    private var handle: OpaquePointer?
    /// Messages collected by the message callback during one read phase.
    private var received: [MQTTMessage] = []
    /// Requests sent and waiting for PUBACK/PUBCOMP/SUBACK/UNSUBACK (or, QoS 0, the write), by mid.
    private var inflight: [Int32: Inflight] = [:]
    /// Active subscriptions, re-established when the broker has no session for us.
    private var subscriptions: [String: MQTTQoS] = [:]
    /// A CONNACK refusal that retrying cannot fix.
    private var fatalError: MQTTError?
    /// The last read phase stopped at `maxBatchSize`: more data may be buffered (also inside TLS).
    private var readPending = false
    private var holdWarned = false
    /// Requests were handed to libmosquitto while writes are held: read no more until they are
    /// written, so that they wait only for what was already read (not for `maxReadAhead`).
    private var requestsHeld = false
    /// CONNACK was just read: stop reading so that pending requests are written before any
    /// message of the new connection is delivered (and holds writes).
    private var justConnected = false
    private var keepAliveSeconds: Int32

    init(core: ClientCore) {
        self.core = core
        self.configuration = core.configuration
        self.logger = core.logger
        self.logger[metadataKey: "mqtt.client"] = "\(core.configuration.clientID)"
        self.keepAliveSeconds = Int32(core.configuration.keepAlive.components.seconds)
    }

    // MARK: Run

    /// Runs until shutdown; returns the fatal error, if any.
    func run() -> MQTTError? {
        MosquittoLibrary.ensureInitialized()
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let mosq = mosquitto_new(configuration.clientID, configuration.cleanStart, context) else {
            return MQTTError(code: .library, message: "mosquitto_new failed (out of memory or invalid client id)")
        }
        handle = mosq
        defer {
            mosquitto_destroy(mosq)
            handle = nil
        }
        if let error = configure(mosq) { return error }
        var properties: OpaquePointer?
        defer { mosquitto_property_free_all(&properties) }
        if configuration.protocolVersion == .v5, configuration.sessionExpiry > .zero {
            let seconds = UInt32(configuration.sessionExpiry.components.seconds)
            mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue), seconds)
        }
        return mainLoop(mosq, properties)
    }

    private func mainLoop(_ mosq: OpaquePointer, _ properties: OpaquePointer?) -> MQTTError? {
        var backoff = configuration.reconnectBackoff.minimum
        var attempts = 0
        while true {
            if let fatalError { return fatalError }
            let now = ContinuousClock.now
            let plan = core.state.withLockedValue { $0.plan(now: now) }
            if plan.isConnected { backoff = configuration.reconnectBackoff.minimum }

            if mosquitto_socket(mosq) < 0 {
                core.state.withLockedValue { $0.requeue(plan.requests) }
                if plan.shutdownDeadline != nil { return nil }
                if attempts > 0 {
                    if !sleep(for: backoff) { continue }  // woken: re-check shutdown first
                    backoff = min(backoff * 2, configuration.reconnectBackoff.maximum)
                }
                attempts += 1
                let rc =
                    attempts == 1
                    ? mosquitto_connect_bind_v5(mosq, configuration.host, Int32(configuration.port), keepAliveSeconds, nil, properties)
                    : mosquitto_reconnect(mosq)
                if rc != MOSQ_ERR_SUCCESS.rawValue {
                    logger.warning(
                        "MQTT connect failed, retrying",
                        metadata: ["error": "\(MosquittoLibrary.describe(rc))", "retry.in": "\(backoff)", "broker": "\(configuration.host):\(configuration.port)"]
                    )
                }
                continue
            }

            if let deadline = plan.shutdownDeadline {
                if shutdownStep(mosq, plan: plan, deadline: deadline, now: now) { return nil }
            }
            submit(plan.requests, mosq)
            if !plan.requests.isEmpty && !plan.canWrite { requestsHeld = true }
            warnIfHolding(plan, now: now)
            // Write what may be written before reading more: requests then leave before the next
            // batch can hold writes back.
            if plan.canWrite && mosquitto_want_write(mosq) {
                let rc = writePhase(mosq)
                if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(mosq) < 0 {
                    connectionLost(rc)
                    continue
                }
            }

            // Poll the socket (and the wake-up pipe).
            let socket = mosquitto_socket(mosq)
            let wantRead = plan.canRead && !requestsHeld
            let wantWrite = plan.canWrite && mosquitto_want_write(mosq)
            var timeout: Duration = .seconds(1)  // loop_misc (keepalive) cadence
            if let ends = plan.readAheadEnds { timeout = min(timeout, ends - now) }
            if let deadline = plan.shutdownDeadline { timeout = min(timeout, deadline - now) }
            if (readPending && wantRead) || !plan.requests.isEmpty { timeout = .zero }
            var fds = [
                pollfd(fd: socket, events: Int16((wantRead ? POLLIN : 0) | (wantWrite ? POLLOUT : 0)), revents: 0),
                pollfd(fd: core.wakeup.readDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, timeout.milliseconds)))
            if ready < 0 && errno != EINTR {
                logger.error("poll failed", metadata: ["errno": "\(errno)"])
            }
            if fds[1].revents != 0 { core.wakeup.drain() }

            var rc = MOSQ_ERR_SUCCESS.rawValue
            let socketEvents = Int32(fds[0].revents)
            logger.trace("MQTT poll", metadata: ["read": "\(wantRead)", "write": "\(wantWrite)", "revents": "\(socketEvents)", "timeout": "\(timeout)"])
            if wantRead && (socketEvents & (POLLIN | POLLHUP | POLLERR) != 0 || readPending) {
                rc = readPhase(mosq)
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue, mosquitto_socket(mosq) >= 0 {
                rc = mosquitto_loop_misc(mosq)
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue, mosquitto_socket(mosq) >= 0, mosquitto_want_write(mosq),
                core.state.withLockedValue({ $0.canWrite })
            {
                rc = writePhase(mosq)
            }
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(mosq) < 0 {
                connectionLost(rc)
            }
        }
    }

    /// Reads up to `maxBatchSize` messages (or until the socket has no more data) and hands them
    /// to the application as one batch.
    private func readPhase(_ mosq: OpaquePointer) -> Int32 {
        readPending = false
        var rc = MOSQ_ERR_SUCCESS.rawValue
        var reads = 0
        let maxReads = configuration.maxBatchSize * 2
        while received.count < configuration.maxBatchSize && reads < maxReads {
            let before = received.count
            errno = 0
            rc = mosquitto_loop_read(mosq, 1)
            reads += 1
            if rc != MOSQ_ERR_SUCCESS.rawValue || mosquitto_socket(mosq) < 0 { break }
            // The socket is drained when a call brought no message and ended in EAGAIN. (EAGAIN
            // alone says little: libmosquitto also leaves it behind when queueing a PUBACK, once
            // its internal wake-up socket pair — which only `mosquitto_loop` empties — is full.)
            // A call that read another packet (PUBACK, SUBACK, PINGRESP) may end the batch early;
            // the next iteration goes on.
            if received.count == before && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            if justConnected {
                readPending = true
                break
            }
        }
        justConnected = false
        if rc == MOSQ_ERR_SUCCESS.rawValue && (received.count >= configuration.maxBatchSize || reads >= maxReads) {
            readPending = true
        }
        if rc == MOSQ_ERR_SUCCESS.rawValue && configuration.tls != nil && reads > 1 {
            // Decrypted data may wait inside OpenSSL where poll(2) cannot see it: read again
            // until a phase reads nothing.
            readPending = true
        }
        logger.trace("MQTT read phase", metadata: ["messages": "\(received.count)", "reads": "\(reads)", "pending": "\(readPending)"])
        if !received.isEmpty {
            let messages = received
            received = []
            received.reserveCapacity(min(configuration.maxBatchSize, 1024))
            let handOver = core.state.withLockedValue { $0.deliver(messages, now: .now, acknowledger: core) }
            if let (consumer, batch) = handOver { consumer.resume(returning: batch) }
        }
        return rc
    }

    /// Writes every queued packet. libmosquitto sends each packet with its own send(2); with
    /// TCP_NODELAY a batch's PUBACKs would leave as hundreds of tiny segments, so the socket is
    /// corked for the write and uncorked after it (one flush, full segments, no Nagle delay).
    private func writePhase(_ mosq: OpaquePointer) -> Int32 {
        requestsHeld = false
        #if os(Linux)
        let socket = mosquitto_socket(mosq)
        var on: Int32 = 1
        var off: Int32 = 0
        let size = socklen_t(MemoryLayout<Int32>.size)
        let corked = setsockopt(socket, Int32(IPPROTO_TCP), TCP_CORK, &on, size) == 0
        let rc = mosquitto_loop_write(mosq, 1)
        if corked, mosquitto_socket(mosq) == socket {
            _ = setsockopt(socket, Int32(IPPROTO_TCP), TCP_CORK, &off, size)
        }
        return rc
        #else
        return mosquitto_loop_write(mosq, 1)
        #endif
    }

    /// One step of a graceful shutdown; returns `true` when the loop should end.
    private func shutdownStep(_ mosq: OpaquePointer, plan: ClientState.Plan, deadline: ContinuousClock.Instant, now: ContinuousClock.Instant) -> Bool {
        guard plan.isConnected else { return true }
        // A pure publisher keeps reading to collect PUBACK/PUBCOMP; a consumer cannot read any more.
        let publicationsOutstanding = !plan.isConsumer && inflight.values.contains { $0.request.id != nil }
        let done = plan.canWrite && plan.requests.isEmpty && core.state.withLockedValue { $0.pending.isEmpty } && !publicationsOutstanding
        guard done || now >= deadline else { return false }
        if plan.canWrite {
            submit(plan.requests, mosq)
            disconnect(mosq)
        } else {
            let held = core.state.withLockedValue { $0.blockingMessages }
            logger.warning(
                "MQTT shutdown: \(held) delivered messages were not acknowledged in time; closing without acknowledging them (the broker redelivers them to the next session)"
            )
        }
        return true
    }

    /// Sends DISCONNECT (after everything queued) and waits up to 1 s for the writes.
    private func disconnect(_ mosq: OpaquePointer) {
        mosquitto_disconnect_v5(mosq, 0, nil)
        let deadline = ContinuousClock.now + .seconds(1)
        while mosquitto_socket(mosq) >= 0 && mosquitto_want_write(mosq) && ContinuousClock.now < deadline {
            var fds = [pollfd(fd: mosquitto_socket(mosq), events: Int16(POLLOUT), revents: 0)]
            _ = poll(&fds, 1, 100)
            if mosquitto_loop_write(mosq, 1) != MOSQ_ERR_SUCCESS.rawValue { break }
        }
        logger.debug("MQTT disconnected")
    }

    /// Waits `duration` or until woken; returns `false` when woken.
    private func sleep(for duration: Duration) -> Bool {
        var fds = [pollfd(fd: core.wakeup.readDescriptor, events: Int16(POLLIN), revents: 0)]
        let ready = poll(&fds, 1, Int32(max(0, duration.milliseconds)))
        if ready > 0 {
            core.wakeup.drain()
            return false
        }
        return true
    }

    private func warnIfHolding(_ plan: ClientState.Plan, now: ContinuousClock.Instant) {
        guard let since = plan.holdingSince else {
            holdWarned = false
            return
        }
        if !holdWarned && now - since > configuration.keepAlive / 2 {
            holdWarned = true
            logger.warning(
                "MQTT batch unacknowledged for more than keepAlive/2: nothing (not even PINGREQ) can be written until the application acknowledges; the broker may drop the connection and redeliver",
                metadata: ["held.for": "\(now - since)"]
            )
        }
    }

    // MARK: Connection state

    private func connectionLost(_ rc: Int32) {
        core.state.withLockedValue { $0.connectionLost() }
        var lost: [ClientRequest] = []
        var failed: [UInt64] = []
        for (mid, entry) in inflight {
            switch entry.request.kind {
            case .publish(_, _, let qos, _) where qos != .atMostOnce:
                continue  // libmosquitto keeps it and sends it again after reconnecting
            case .publish:
                if let id = entry.request.id { failed.append(id) }
            case .subscribe, .unsubscribe:
                lost.append(entry.request)
            }
            inflight.removeValue(forKey: mid)
        }
        for id in failed {
            core.complete(
                id,
                .failure(MQTTError(code: .connectionLost, message: "the connection dropped before the QoS 0 message was written; publish it again"))
            )
        }
        core.state.withLockedValue { $0.requeue(lost.filter { $0.id != nil }) }
        received = []
        readPending = false
        requestsHeld = false
        if fatalError == nil {
            logger.warning("MQTT connection lost, reconnecting", metadata: ["reason": "\(MosquittoLibrary.describe(rc))"])
        }
    }

    fileprivate func onConnect(_ reason: Int32, flags: Int32) {
        guard reason == 0 else {
            let text =
                configuration.protocolVersion == .v311
                ? MosquittoLibrary.describeConnack(reason) : MosquittoLibrary.describeReason(reason)
            if isFatal(reason) {
                fatalError = MQTTError(
                    code: .connectionRefused,
                    message: "the broker refused the connection (\(text)); check the credentials, client id, protocol version and the broker's ACL",
                    reasonCode: Int(reason)
                )
                logger.error("MQTT connection refused", metadata: ["reason": "\(text)"])
            } else {
                logger.warning("MQTT connection refused, retrying", metadata: ["reason": "\(text)"])
            }
            return
        }
        let sessionPresent = flags & 1 != 0
        let first = core.state.withLockedValue { state -> Bool in
            state.connected()
            return state.connections == 1
        }
        logger.info("MQTT connected", metadata: ["session.present": "\(sessionPresent)", "broker": "\(configuration.host):\(configuration.port)"])
        justConnected = true
        guard let handle else { return }
        // Configured subscriptions on every connection; the application's ones again when the
        // broker kept no session. Queued now, written before any message is delivered.
        var renew = configuration.subscriptions.map { ClientRequest(id: nil, kind: .subscribe(filter: $0.filter, qos: $0.qos)) }
        if !first && !sessionPresent {
            let configured = Set(configuration.subscriptions.map(\.filter))
            renew += subscriptions.filter { !configured.contains($0.key) }
                .map { ClientRequest(id: nil, kind: .subscribe(filter: $0.key, qos: $0.value)) }
        }
        submit(renew, handle)
    }

    private func isFatal(_ reason: Int32) -> Bool {
        if configuration.protocolVersion == .v311 {
            return [1, 2, 4, 5].contains(reason)  // protocol, identifier, credentials, not authorised
        }
        return [0x84, 0x85, 0x86, 0x87, 0x8C].contains(reason)
    }

    // MARK: Requests

    private func submit(_ requests: [ClientRequest], _ mosq: OpaquePointer) {
        var index = 0
        while index < requests.count {
            let request = requests[index]
            index += 1
            var mid: Int32 = 0
            let rc: Int32
            switch request.kind {
            case .publish(let topic, let payload, let qos, let retain):
                rc = payload.withUnsafeBytes { bytes in
                    mosquitto_publish_v5(mosq, &mid, topic, Int32(bytes.count), bytes.baseAddress, Int32(qos.rawValue), retain, nil)
                }
            case .subscribe(let filter, let qos):
                rc = mosquitto_subscribe_v5(mosq, &mid, filter, Int32(qos.rawValue), 0, nil)
                if rc == MOSQ_ERR_SUCCESS.rawValue { subscriptions[filter] = qos }
            case .unsubscribe(let filter):
                rc = mosquitto_unsubscribe_v5(mosq, &mid, filter, nil)
                if rc == MOSQ_ERR_SUCCESS.rawValue { subscriptions.removeValue(forKey: filter) }
            }
            if rc == MOSQ_ERR_SUCCESS.rawValue {
                inflight[mid] = Inflight(request: request)
            } else if rc == MOSQ_ERR_NO_CONN.rawValue {
                core.state.withLockedValue { $0.requeue(Array(requests[(index - 1)...])) }
                return
            } else {
                let code: MQTTError.Code =
                    [MOSQ_ERR_INVAL, MOSQ_ERR_PAYLOAD_SIZE, MOSQ_ERR_MALFORMED_UTF8, MOSQ_ERR_OVERSIZE_PACKET, MOSQ_ERR_QOS_NOT_SUPPORTED]
                    .map(\.rawValue).contains(rc) ? .invalidArgument : .library
                core.complete(request.id, .failure(MosquittoLibrary.error(rc, "request rejected before sending (check the topic or filter and the payload size)", code)))
            }
        }
    }

    fileprivate func onPublish(mid: Int32, reason: Int32) {
        guard let entry = inflight.removeValue(forKey: mid) else { return }
        if reason >= 0x80 {
            core.complete(
                entry.request.id,
                .failure(MQTTError(code: .publishRejected, message: "the broker rejected the publication: \(MosquittoLibrary.describeReason(reason))", reasonCode: Int(reason)))
            )
        } else {
            core.complete(entry.request.id, .success(.published))
        }
    }

    fileprivate func onSubscribe(mid: Int32, granted: Int32?) {
        guard let entry = inflight.removeValue(forKey: mid) else { return }
        guard let granted, granted < 0x80, let qos = MQTTQoS(rawValue: UInt8(granted)) else {
            if case .subscribe(let filter, _) = entry.request.kind { subscriptions.removeValue(forKey: filter) }
            let reason = granted ?? 0x80
            core.complete(
                entry.request.id,
                .failure(MQTTError(code: .subscribeRejected, message: "the broker rejected the subscription: \(MosquittoLibrary.describeReason(reason)); check the filter and the ACL", reasonCode: Int(reason)))
            )
            return
        }
        core.complete(entry.request.id, .success(.subscribed(qos)))
    }

    fileprivate func onUnsubscribe(mid: Int32) {
        guard let entry = inflight.removeValue(forKey: mid) else { return }
        core.complete(entry.request.id, .success(.unsubscribed))
    }

    fileprivate func onMessage(_ message: UnsafePointer<mosquitto_message>) {
        let raw = message.pointee
        let topic = raw.topic.map { String(cString: $0) } ?? ""
        let payload: [UInt8]
        if let bytes = raw.payload, raw.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(raw.payloadlen)))
        } else {
            payload = []
        }
        received.append(
            MQTTMessage(topic: topic, payload: payload, qos: MQTTQoS(rawValue: UInt8(clamping: raw.qos)) ?? .atMostOnce, retain: raw.retain)
        )
    }

    // MARK: Set-up

    private func configure(_ mosq: OpaquePointer) -> MQTTError? {
        func check(_ rc: Int32, _ what: String) -> MQTTError? {
            rc == MOSQ_ERR_SUCCESS.rawValue ? nil : MosquittoLibrary.error(rc, what, .invalidConfiguration)
        }
        let version = configuration.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311
        if let error = check(mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, version), "protocol version") { return error }
        if let error = check(mosquitto_threaded_set(mosq, true), "threaded mode") { return error }
        _ = mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1)
        if configuration.protocolVersion == .v5 {
            let value = Int32(configuration.receiveMaximum)
            if let error = check(mosquitto_int_option(mosq, MOSQ_OPT_RECEIVE_MAXIMUM, value), "receive maximum") { return error }
        }
        if let credentials = configuration.credentials {
            if let error = check(mosquitto_username_pw_set(mosq, credentials.username, credentials.password), "credentials") { return error }
        }
        if let will = configuration.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set_v5(mosq, will.topic, Int32(bytes.count), bytes.baseAddress, Int32(will.qos.rawValue), will.retain, nil)
            }
            if let error = check(rc, "last will") { return error }
        }
        if let tls = configuration.tls {
            if tls.useSystemCertificates {
                if let error = check(mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1), "TLS system certificates") { return error }
            }
            if tls.caFile != nil || tls.caPath != nil {
                let rc = mosquitto_tls_set(mosq, tls.caFile, tls.caPath, tls.certificateFile, tls.keyFile, nil)
                if let error = check(rc, "TLS files (check that the PEM files exist and are readable)") { return error }
            }
            if let error = check(mosquitto_tls_opts_set(mosq, tls.verifyPeer ? 1 : 0, tls.version, nil), "TLS options") { return error }
            if tls.allowHostnameMismatch {
                _ = mosquitto_tls_insecure_set(mosq, true)
            }
        }
        mosquitto_connect_v5_callback_set(mosq) { _, context, reason, flags, _ in
            guard let context else { return }
            Unmanaged<MosquittoLoop>.fromOpaque(context).takeUnretainedValue().onConnect(reason, flags: flags)
        }
        mosquitto_message_v5_callback_set(mosq) { _, context, message, _ in
            guard let context, let message else { return }
            Unmanaged<MosquittoLoop>.fromOpaque(context).takeUnretainedValue().onMessage(message)
        }
        mosquitto_publish_v5_callback_set(mosq) { _, context, mid, reason, _ in
            guard let context else { return }
            Unmanaged<MosquittoLoop>.fromOpaque(context).takeUnretainedValue().onPublish(mid: mid, reason: reason)
        }
        mosquitto_subscribe_v5_callback_set(mosq) { _, context, mid, count, granted, _ in
            guard let context else { return }
            let first = count > 0 ? granted?.pointee : nil
            Unmanaged<MosquittoLoop>.fromOpaque(context).takeUnretainedValue().onSubscribe(mid: mid, granted: first)
        }
        mosquitto_unsubscribe_v5_callback_set(mosq) { _, context, mid, _ in
            guard let context else { return }
            Unmanaged<MosquittoLoop>.fromOpaque(context).takeUnretainedValue().onUnsubscribe(mid: mid)
        }
        return nil
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that short waits do not become busy loops.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
