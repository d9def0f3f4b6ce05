import SocketIO
import Telemetry

extension HubState {
    /// The `history` object of hub-api.md 1.4 for `id` (also for never-seen devices).
    func history(of id: DeviceID, since: Int64, now: Int64) -> JSONValue {
        let device = devices[id]
        let readings = (device?.readings ?? []).filter { $0.ts >= since }.suffix(limits.maxReadings).map(\.json)
        let stats = (device?.stats.values.filter { $0.end > since } ?? [])
            .sorted { $0.start < $1.start }.suffix(limits.maxStats).map(\.json)
        let notes = (device?.notes ?? []).suffix(limits.maxNotes).map(\.json)
        return .object([
            ("device", .string(id.rawValue)),
            ("status", device?.statusJSON ?? .null),
            ("since", .int(since)),
            ("readings", .array(Array(readings))),
            ("stats", .array(Array(stats))),
            ("alerts", .array(historyAlerts(of: id, now: now))),
            ("notes", .array(Array(notes))),
        ])
    }

    /// Active and acknowledged alerts plus those cleared in the retention period, newest first.
    func historyAlerts(of id: DeviceID, now: Int64) -> [JSONValue] {
        guard let ids = devices[id]?.alertIDs else { return [] }
        let clearedSince = now - limits.clearedRetentionMillis
        return ids.compactMap { alerts[$0] }
            .filter { $0.transition.state != .cleared || $0.transition.ts >= clearedSince }
            .sorted { $0.transition.ts > $1.transition.ts }
            .prefix(limits.maxAlertsInHistory).map(\.json)
    }

    func activeAlertCount(of id: DeviceID) -> Int {
        devices[id]?.alertIDs.reduce(0) { count, alertID in
            guard let state = alerts[alertID]?.transition.state else { return count }
            return state == .cleared ? count : count + 1
        } ?? 0
    }

    /// The summary object of `/api/devices` for a known device.
    func summary(of id: DeviceID) -> [(key: String, value: JSONValue)]? {
        guard let device = devices[id] else { return nil }
        return [
            ("id", .string(id.rawValue)),
            ("status", .string(device.status?.rawValue ?? "unknown")),
            ("lastSeen", device.lastSeen.map { .int($0) } ?? .null),
            ("lastSeq", device.lastSeq.map { .number(Double($0)) } ?? .null),
            ("metrics", device.metricsJSON),
            ("activeAlerts", .number(Double(activeAlertCount(of: id)))),
        ]
    }

    /// One page of device summaries sorted by id, after `after`; `next` is set when more follow.
    func devicePage(after: String?, limit: Int) -> (devices: [JSONValue], next: String?) {
        let ids = devices.keys.filter { id in after.map { id.rawValue > $0 } ?? true }.sorted()
        let page = ids.prefix(limit)
        let next = ids.count > limit ? page.last?.rawValue : nil
        return (page.compactMap { summary(of: $0).map(JSONValue.object) }, next)
    }

    /// Current state of each alert, newest `ts` first, filtered.
    func alertList(states: Set<AlertState>, device: DeviceID?, limit: Int) -> [JSONValue] {
        let entries: [AlertEntry]
        if let device {
            entries = (devices[device]?.alertIDs ?? []).compactMap { alerts[$0] }
        } else {
            entries = Array(alerts.values)
        }
        return entries.filter { states.contains($0.transition.state) }
            .sorted { ($0.transition.ts, $0.transition.id) > ($1.transition.ts, $1.transition.id) }
            .prefix(limit).map(\.json)
    }
}
