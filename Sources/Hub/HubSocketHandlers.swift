import Kafka
import NIOConcurrencyHelpers
import Logging
import Metrics
import SocketIO
import Telemetry

/// The Socket.IO side of the hub (hub-api.md 1): handshake authentication and the
/// `subscribe`, `unsubscribe`, `alert:ack` and `note` events.
struct HubSocketHandlers: Sendable {
    let configuration: HubConfiguration
    let store: HubStore
    let producer: KafkaProducer
    let metrics: HubMetrics
    let logger: Logger
    let noteCounter: NoteCounter
    let sessions: HubSessionTable
    let sessionWriter: HubSessionWriter
    let frontier: HubFrontier

    static let maxSubscribeDevices = 1000

    func install(on io: SocketIOServer) {
        let tokens = configuration.tokens
        let metrics = self.metrics
        let maxClients = configuration.maxClients
        io.mainNamespace.use { [weak io] socket in
            // The Engine.IO cap (maxSessions) is a little higher, so that the client gets this
            // readable refusal instead of a bare 403.
            if let io, io.mainNamespace.sockets.count >= maxClients {
                metrics.connectionRefused(reason: "too-many-clients")
                throw SocketIOConnectError(
                    "too-many-clients",
                    data: .object([
                        ("code", "too-many-clients"),
                        ("message", "this hub serves its maximum number of dashboards; try again later or another hub"),
                    ]))
            }
            if !tokens.isEmpty {
                guard let token = socket.handshake.auth["token"]?.stringValue, tokens.contains(token) else {
                    metrics.connectionRefused(reason: "unauthorized")
                    throw SocketIOConnectError(
                        "unauthorized",
                        data: .object([
                            ("code", "unauthorized"),
                            ("message", "missing or invalid access token; open the dashboard with ?token=<token>"),
                        ]))
                }
            }
        }
        io.mainNamespace.onConnection { [weak io] socket in
            guard let io else { return }
            self.connected(socket, io: io)
        }
    }

    /// The operator name from the handshake, or `operator-` + the first 6 characters of the id.
    static func operatorName(_ socket: SocketIOSocket) -> String {
        if let name = socket.handshake.auth["name"]?.stringValue, (1...64).contains(name.count) { return name }
        return "operator-" + socket.id.prefix(6)
    }

    private func connected(_ socket: SocketIOSocket, io: SocketIOServer) {
        if socket.recovered {
            metrics.recovery(recovered: true)
            // Written again by this hub: the retention counts from now, and a session whose
            // first write Kafka did not take becomes recoverable everywhere.
            saveSession(socket)
        } else if configuration.connectionStateRecovery, let pid = socket.handshake.auth["pid"]?.stringValue {
            // The client asked to recover and could not: say so plainly, so that it reloads.
            metrics.recovery(recovered: false)
            let failure = sessions.takeFailure(pid: pid) ?? RecoveryFailure(
                reason: "other", message: "the session could not be recovered (no offset, or unknown session); subscribe again",
                devices: ["*"])
            socket.emit("history-lost", [Self.historyLost(failure)])
        }
        let name = Self.operatorName(socket)
        socket.on("subscribe") { arguments, ack in
            self.subscribe(socket, io: io, arguments.first, ack)
        }
        socket.on("unsubscribe") { arguments, ack in
            self.unsubscribe(socket, arguments.first, ack)
        }
        socket.on("alert:ack") { arguments, ack in
            await self.acknowledge(arguments.first, by: name, ack)
        }
        socket.on("note") { arguments, ack in
            await self.note(arguments.first, author: name, ack)
        }
        let pid = configuration.connectionStateRecovery ? socket.pid : nil
        let sessions = self.sessions
        let sessionWriter = self.sessionWriter
        socket.onDisconnect { reason in
            if reason.rawValue == "send queue overflow" { metrics.droppedQueueOverflow.increment() }
            // An explicit disconnect ends the session on every hub (as in Socket.IO).
            if !reason.isRecoverable, let pid {
                sessions.remove(pid: pid)
                sessionWriter.delete(pid: pid)
            }
        }
    }

    /// The `history-lost` payload (hub-api.md 1.4) for a failed recovery.
    static func historyLost(_ failure: RecoveryFailure) -> JSONValue {
        .object([
            ("devices", .array(failure.devices.map { .string($0) })), ("reason", .string(failure.reason)),
            ("message", .string(failure.message)),
        ])
    }

    /// Records the socket's rooms in this hub's session table at once and hands them to the
    /// session writer (sessions topic, in the background), so that any hub can recover it.
    private func saveSession(_ socket: SocketIOSocket) {
        guard configuration.connectionStateRecovery, let pid = socket.pid else { return }
        var rooms = socket.rooms
        rooms.remove(socket.id)
        let record = HubSessionRecord(pid: pid, sid: socket.id, rooms: rooms.sorted(), ts: WallClock.nowMilliseconds())
        sessions.put(record)
        sessionWriter.write(record)
    }

    /// Sends `subscribed` `{"devices"}` to this socket alone, with the current recovery offset
    /// (taken after the join, before the `history` snapshot): a client then holds an offset even
    /// if its devices stay quiet, so that it can recover (an alerts page, an offline device).
    private func markSubscribed(_ socket: SocketIOSocket, io: SocketIOServer, devices: [String]) {
        guard configuration.connectionStateRecovery else { return }
        frontier.emitAtCurrentOffset(
            "subscribed", .object([("devices", .array(devices.map { .string($0) }))]), to: socket.id, on: io)
    }

    // MARK: - Replies

    static func failure(_ code: String, _ message: String) -> JSONValue {
        .object([("ok", false), ("error", .object([("code", .string(code)), ("message", .string(message))]))])
    }

    private func reply(_ ack: SocketIOAck?, event: String, _ value: JSONValue) {
        var result = "ok"
        if case .bool(false) = value["ok"] ?? .null, let code = value["error"]?["code"]?.stringValue { result = code }
        metrics.clientMessage(event: event, result: result)
        ack?(value)
    }

    // MARK: - subscribe / unsubscribe

    /// A parsed `subscribe`/`unsubscribe` payload.
    struct Subscription: Equatable {
        var fleet: Bool
        var devices: [DeviceID]
        var events: [HubEventName]?
        var history: Bool
    }

    static let badDevices = "devices must be an array of 1..1000 device ids, or [\"*\"]"

    /// Validates a payload (hub-api.md 1.3); returns the error message on failure.
    static func parseSubscription(_ payload: JSONValue?) -> Result<Subscription, SubscriptionError> {
        guard let payload, case .object = payload else { return .failure(.init("payload must be an object with devices")) }
        guard let list = payload["devices"]?.arrayValue, (1...maxSubscribeDevices).contains(list.count) else {
            return .failure(.init(badDevices))
        }
        var history = true
        switch payload["history"] {
        case nil, .null?: break
        case .bool(let value)?: history = value
        default: return .failure(.init("history must be a boolean"))
        }
        let strings = list.compactMap(\.stringValue)
        guard strings.count == list.count else { return .failure(.init(badDevices)) }
        var events: [HubEventName]?
        if let rawEvents = payload["events"], rawEvents != .null {
            guard let array = rawEvents.arrayValue, !array.isEmpty else {
                return .failure(.init("events must be a non-empty array of event names"))
            }
            var names: [HubEventName] = []
            for value in array {
                guard let name = value.stringValue.flatMap(HubEventName.init(rawValue:)) else {
                    return .failure(.init("unknown event name in events; use reading, stats, alert, device-status, note"))
                }
                if !names.contains(name) { names.append(name) }
            }
            events = names
        }
        if strings.contains("*") {
            guard strings.count == 1 else { return .failure(.init("\"*\" cannot be mixed with device ids")) }
            return .success(Subscription(fleet: true, devices: [], events: events, history: false))
        }
        if events != nil { return .failure(.init("events is only allowed with [\"*\"]")) }
        var devices: [DeviceID] = []
        for string in strings {
            guard let id = DeviceID(string) else {
                return .failure(.init("'\(string.prefix(70))' is not a device id ([A-Za-z0-9_-]{1,64})"))
            }
            devices.append(id)
        }
        return .success(Subscription(fleet: false, devices: devices, events: nil, history: history))
    }

    struct SubscriptionError: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Joins the rooms, acks, then sends one `history` per device. Joining before taking the
    /// snapshot means no live event can fall between the history and the live stream.
    private func subscribe(_ socket: SocketIOSocket, io: SocketIOServer, _ payload: JSONValue?, _ ack: SocketIOAck?) {
        let subscription: Subscription
        switch Self.parseSubscription(payload) {
        case .success(let value): subscription = value
        case .failure(let error):
            reply(ack, event: "subscribe", Self.failure("bad-request", error.message))
            return
        }
        if subscription.fleet {
            if let events = subscription.events {
                socket.join(events.map { HubRooms.fleet($0) })
                saveSession(socket)
                markSubscribed(socket, io: io, devices: ["*"])
                reply(ack, event: "subscribe", .object([
                    ("ok", true), ("devices", ["*"]), ("events", .array(events.map { .string($0.rawValue) })),
                ]))
            } else {
                socket.join(HubRooms.fleet)
                saveSession(socket)
                markSubscribed(socket, io: io, devices: ["*"])
                reply(ack, event: "subscribe", .object([("ok", true), ("devices", ["*"])]))
            }
            return
        }
        socket.join(subscription.devices.map { HubRooms.device($0.rawValue) })
        saveSession(socket)
        markSubscribed(socket, io: io, devices: subscription.devices.map(\.rawValue))
        reply(ack, event: "subscribe", .object([
            ("ok", true), ("devices", .array(subscription.devices.map { .string($0.rawValue) })),
        ]))
        guard subscription.history else { return }
        let now = WallClock.nowMilliseconds()
        let since = now - store.limits.historyMillis
        for device in subscription.devices {
            let history = store.withState { $0.history(of: device, since: since, now: now) }
            socket.emit("history", [history])
            metrics.historyEmitted.increment()
        }
    }

    private func unsubscribe(_ socket: SocketIOSocket, _ payload: JSONValue?, _ ack: SocketIOAck?) {
        let subscription: Subscription
        switch Self.parseSubscription(payload) {
        case .success(let value): subscription = value
        case .failure(let error):
            reply(ack, event: "unsubscribe", Self.failure("bad-request", error.message))
            return
        }
        if subscription.fleet {
            socket.leave(HubRooms.fleet)
            for event in HubEventName.allCases { socket.leave(HubRooms.fleet(event)) }
            saveSession(socket)
            reply(ack, event: "unsubscribe", .object([("ok", true), ("devices", ["*"])]))
            return
        }
        for device in subscription.devices { socket.leave(HubRooms.device(device.rawValue)) }
        saveSession(socket)
        reply(ack, event: "unsubscribe", .object([
            ("ok", true), ("devices", .array(subscription.devices.map { .string($0.rawValue) })),
        ]))
    }

    // MARK: - Operator actions

    private func acknowledge(_ payload: JSONValue?, by name: String, _ ack: SocketIOAck?) async {
        guard let payload, case .object = payload, let id = payload["id"]?.stringValue, !id.isEmpty, id.count <= 128
        else {
            reply(ack, event: "alert:ack", Self.failure("bad-request", "send {\"id\": \"<alert id>\"}"))
            return
        }
        let ts = WallClock.nowMilliseconds()
        let known = store.withState { state -> (AlertTransition, JSONValue?)? in
            guard let entry = state.alerts[id] else { return nil }
            return (entry.transition, state.acknowledgedTransition(id: id, by: name, ts: ts)?.1)
        }
        guard let (alert, expected) = known else {
            reply(ack, event: "alert:ack", Self.failure("not-found", "no alert with id \(id.prefix(40)) is known to this hub"))
            return
        }
        if alert.state == .cleared {
            reply(ack, event: "alert:ack", Self.failure("not-active", "the alert is cleared; there is nothing to acknowledge"))
            return
        }
        if alert.state == .acknowledged {
            reply(ack, event: "alert:ack", .object([("ok", true), ("id", .string(id))]))
            return
        }
        let record = OperatorRecord.acknowledgement(id: id, device: alert.device, by: name, ts: ts)
        guard await write(record) != nil else {
            reply(ack, event: "alert:ack", Self.failure("unavailable", "Kafka did not take the acknowledgement in time; retry later"))
            return
        }
        var answer: [(key: String, value: JSONValue)] = [("ok", true), ("id", .string(id))]
        if let expected { answer.append(("alert", expected)) }
        reply(ack, event: "alert:ack", .object(answer))
    }

    private func note(_ payload: JSONValue?, author: String, _ ack: SocketIOAck?) async {
        guard let payload, case .object = payload,
            let device = payload["device"]?.stringValue.flatMap({ DeviceID($0) })
        else {
            reply(ack, event: "note", Self.failure("bad-request", "send {\"device\": \"<device id>\", \"text\": \"...\"}"))
            return
        }
        let text = (payload["text"]?.stringValue ?? "").trimmingWhitespace()
        guard (1...OperatorRecord.maxNoteLength).contains(text.count) else {
            reply(ack, event: "note", Self.failure("bad-request", "text must be 1 to \(OperatorRecord.maxNoteLength) characters after trimming"))
            return
        }
        let ts = WallClock.nowMilliseconds()
        // The record carries a provisional unique id; dashboards see the id derived from the
        // Kafka position ("n-{partition}-{offset}"), the same on every hub.
        let provisional = "p-\(configuration.instanceID)-\(ts)-\(noteCounter.next())"
        let record = OperatorRecord.note(id: provisional, device: device, text: text, author: author, ts: ts)
        guard let report = await write(record) else {
            reply(ack, event: "note", Self.failure("unavailable", "Kafka did not take the note in time; retry later"))
            return
        }
        let note: JSONValue = .object([
            ("id", .string(HubRecordRouter.noteID(partition: report.partition, offset: report.offset))),
            ("device", .string(device.rawValue)), ("text", .string(text)), ("author", .string(author)), ("ts", .int(ts)),
        ])
        reply(ack, event: "note", .object([("ok", true), ("note", note)]))
    }

    /// Produces `record` to the operator topic; nil when Kafka did not confirm within the timeout.
    private func write(_ record: OperatorRecord) async -> KafkaDeliveryReport? {
        await send(
            KafkaProducerRecord(topic: configuration.topics.operatorActions, key: record.device.rawValue, value: record.encoded()))
    }

    /// Produces `kafkaRecord`; nil when Kafka did not confirm within `operatorWriteTimeout`.
    private func send(_ kafkaRecord: KafkaProducerRecord) async -> KafkaDeliveryReport? {
        let producer = self.producer
        let timeout = configuration.operatorWriteTimeout
        return await withTaskGroup(of: KafkaDeliveryReport?.self) { group in
            group.addTask { try? await producer.send(kafkaRecord) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}

/// A process-wide counter for provisional note ids.
final class NoteCounter: Sendable {
    private let value = NIOLockedValueBox<UInt64>(0)
    func next() -> UInt64 {
        value.withLockedValue {
            $0 += 1
            return $0
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
