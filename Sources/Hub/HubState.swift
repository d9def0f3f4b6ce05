import SocketIO
import Telemetry

/// The hub's in-memory view of the fleet: pure and synchronous, mutated under ``HubStore``'s
/// lock. Each `apply` returns the events to broadcast (performed outside the lock).
struct HubState: Sendable {
    struct AlertEntry: Sendable {
        var transition: AlertTransition
        var json: JSONValue
    }

    var limits: Limits
    var devices: [DeviceID: DeviceState] = [:]
    var alerts: [String: AlertEntry] = [:]
    /// Acknowledgements read before the alert they acknowledge: the hub reads the operator and
    /// alerts topics independently, so an acknowledgement can overtake its alert. Applied when
    /// the alert arrives; at most `maxPendingAcknowledgements` are kept.
    var pendingAcknowledgements: [String: (by: String?, ts: Int64)] = [:]
    static let maxPendingAcknowledgements = 1024

    struct Limits: Sendable {
        var historyMillis: Int64
        var maxReadings: Int
        var maxStats: Int
        var maxNotes: Int
        var maxAlertsInHistory: Int
        var clearedRetentionMillis: Int64
        var maxDevices: Int
        var offlineMillis: Int64

        init(_ configuration: HubConfiguration) {
            historyMillis = configuration.historyDuration.milliseconds
            maxReadings = configuration.maxReadingsPerDevice
            maxStats = configuration.maxStatsPerDevice
            maxNotes = configuration.maxNotesPerDevice
            maxAlertsInHistory = configuration.maxAlertsInHistory
            clearedRetentionMillis = configuration.clearedAlertRetention.milliseconds
            maxDevices = configuration.maxDevices
            offlineMillis = configuration.offlineTimeout.milliseconds
        }
    }

    init(limits: Limits) {
        self.limits = limits
    }

    /// Runs `body` on the device's state, creating it unless the device cap is reached.
    private mutating func withDevice<T>(_ id: DeviceID, _ body: (inout DeviceState) -> T) -> T? {
        if devices[id] == nil, devices.count >= limits.maxDevices { return nil }
        return body(&devices[id, default: DeviceState()])
    }

    // MARK: - Applying records

    mutating func apply(reading: Reading, json: JSONValue, now: Int64) -> [HubEvent] {
        let maxReadings = limits.maxReadings
        let fresh = reading.ts > now - limits.offlineMillis
        let result = withDevice(reading.device) { device -> (added: Bool, cameOnline: Bool) in
            let added = device.add(reading: reading, json: json, cap: maxReadings)
            var cameOnline = false
            if fresh {
                device.lastArrival = now
                if device.status != .online {
                    device.status = .online
                    device.statusJSON = DeviceStatusRecord(device: reading.device, status: .online, ts: now).json
                    cameOnline = true
                }
            }
            return (added, cameOnline)
        }
        guard let result else { return [] }
        var events: [HubEvent] = []
        if result.added { events.append(HubEvent(name: .reading, device: reading.device, payload: json)) }
        if result.cameOnline, let status = devices[reading.device]?.statusJSON {
            events.append(HubEvent(name: .deviceStatus, device: reading.device, payload: status))
        }
        return events
    }

    mutating func apply(stats: WindowStats, json: JSONValue) -> [HubEvent] {
        let cap = limits.maxStats
        guard withDevice(stats.device, { $0.add(stats: stats, json: json, cap: cap) }) != nil else { return [] }
        return [HubEvent(name: .stats, device: stats.device, payload: json)]
    }

    /// Applies an alert transition with the merge rule (furthest state, then greatest `ts`).
    /// Returns the event even when the stored state does not change (dashboards merge too).
    mutating func apply(alert: AlertTransition, json: JSONValue) -> [HubEvent] {
        guard withDevice(alert.device, { $0.alertIDs.insert(alert.id) }) != nil else { return [] }
        if let existing = alerts[alert.id] {
            if Self.supersedes(alert, existing.transition) {
                var merged = alert
                var mergedJSON = json
                if merged.ackedBy == nil, let ackedBy = existing.transition.ackedBy {
                    merged.ackedBy = ackedBy
                    mergedJSON = json.setting("ackedBy", .string(ackedBy))
                }
                alerts[alert.id] = AlertEntry(transition: merged, json: mergedJSON)
            }
        } else {
            alerts[alert.id] = AlertEntry(transition: alert, json: json)
        }
        var events = [HubEvent(name: .alert, device: alert.device, payload: json)]
        if let pending = pendingAcknowledgements.removeValue(forKey: alert.id),
            let (acknowledged, acknowledgedJSON) = acknowledgedTransition(id: alert.id, by: pending.by, ts: pending.ts)
        {
            events += apply(alert: acknowledged, json: acknowledgedJSON)
        }
        return events
    }

    /// Applies an acknowledgement read from the operator topic: the `acknowledged` transition of
    /// a known active alert, or, for an alert not seen yet, a pending acknowledgement.
    mutating func acknowledge(id: String, by: String?, ts: Int64) -> [HubEvent] {
        guard alerts[id] != nil else {
            if pendingAcknowledgements.count >= Self.maxPendingAcknowledgements {
                pendingAcknowledgements.removeAll()
            }
            pendingAcknowledgements[id] = (by, ts)
            return []
        }
        guard let (transition, json) = acknowledgedTransition(id: id, by: by, ts: ts) else { return [] }
        return apply(alert: transition, json: json)
    }

    static func rank(_ state: AlertState) -> Int {
        switch state {
        case .active: 0
        case .acknowledged: 1
        case .cleared: 2
        }
    }

    /// Whether `new` replaces `old` under the merge rule of hub-api.md 1.4.
    static func supersedes(_ new: AlertTransition, _ old: AlertTransition) -> Bool {
        let (a, b) = (rank(new.state), rank(old.state))
        return a > b || (a == b && new.ts >= old.ts)
    }

    mutating func apply(status: DeviceStatusRecord, now: Int64) -> [HubEvent] {
        let json = status.json
        let changed = withDevice(status.device) { device -> Bool in
            device.status = status.status
            device.statusJSON = json
            if status.status == .online { device.lastArrival = now }
            return true
        }
        guard changed != nil else { return [] }
        return [HubEvent(name: .deviceStatus, device: status.device, payload: json)]
    }

    /// The `note` event payload.
    static func noteJSON(id: String, device: DeviceID, text: String, author: String?, ts: Int64) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id)), ("device", .string(device.rawValue)), ("text", .string(text)),
        ]
        if let author { members.append(("author", .string(author))) }
        members.append(("ts", .int(ts)))
        return JSONValue.object(members)
    }

    mutating func apply(noteID: String, device: DeviceID, text: String, author: String?, ts: Int64) -> [HubEvent] {
        let json = Self.noteJSON(id: noteID, device: device, text: text, author: author, ts: ts)
        let cap = limits.maxNotes
        guard withDevice(device, { $0.add(noteID: noteID, ts: ts, json: json, cap: cap) }) != nil else { return [] }
        return [HubEvent(name: .note, device: device, payload: json)]
    }

    /// The `acknowledged` transition the hub derives from an acknowledgement of a known,
    /// still active alert (nil when unknown or already acknowledged/cleared).
    func acknowledgedTransition(id: String, by: String?, ts: Int64) -> (AlertTransition, JSONValue)? {
        guard let entry = alerts[id], entry.transition.state == .active else { return nil }
        var transition = entry.transition
        transition.state = .acknowledged
        transition.ts = ts
        transition.ackedBy = by
        var json = entry.json.setting("state", .string("acknowledged")).setting("ts", .int(ts))
        if let by { json = json.setting("ackedBy", .string(by)) }
        return (transition, json)
    }

    // MARK: - Housekeeping

    /// Marks devices without a fresh reading for the offline timeout `offline`, prunes old
    /// history and old cleared alerts. Returns the status events.
    mutating func tick(now: Int64) -> [HubEvent] {
        var events: [HubEvent] = []
        let since = now - limits.historyMillis
        for id in Array(devices.keys) {
            guard var device = devices[id] else { continue }
            device.prune(since: since)
            if device.status == .online, let arrival = device.lastArrival, arrival <= now - limits.offlineMillis {
                let json = DeviceStatusRecord(device: id, status: .offline, ts: now).json
                device.status = .offline
                device.statusJSON = json
                events.append(HubEvent(name: .deviceStatus, device: id, payload: json))
            }
            devices[id] = device
        }
        let clearedBefore = now - limits.clearedRetentionMillis
        for (id, entry) in alerts where entry.transition.state == .cleared && entry.transition.ts < clearedBefore {
            alerts[id] = nil
            devices[entry.transition.device]?.alertIDs.remove(id)
        }
        return events
    }
}

extension DeviceStatusRecord {
    var json: JSONValue {
        .object([("device", .string(device.rawValue)), ("status", .string(status.rawValue)), ("ts", .int(ts))])
    }
}

extension Duration {
    /// Whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
