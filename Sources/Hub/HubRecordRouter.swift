import Kafka
import Logging
import SocketIO
import Telemetry

/// Turns Kafka records of the five topics the hub reads into state changes and events.
struct HubRecordRouter: Sendable {
    let topics: FluxgateTopics
    let store: HubStore
    let emitAcknowledgedTransitions: Bool
    /// Readings and windows older than this (ms before now) are skipped: start-up warm-up reads
    /// a bounded number of records back and keeps only the history window.
    let historyMillis: Int64

    /// The note id dashboards see: derived from the record's Kafka position, so every hub
    /// instance names a note the same way (hub-api.md 1.4).
    static func noteID(partition: Int, offset: Int64) -> String { "n-\(partition)-\(offset)" }

    /// Applies `record`; returns the events to broadcast, or nil when the record is malformed.
    func route(_ record: KafkaConsumerRecord, now: Int64) -> [HubEvent]? {
        switch record.topic {
        case topics.readings:
            guard let reading = try? ReadingRecord.decode(record.value), let json = JSONValue.parse(bytes: record.value)
            else { return nil }
            if reading.ts < now - historyMillis { return [] }
            return store.withState { $0.apply(reading: reading, json: json, now: now) }
        case topics.stats:
            guard let stats = try? WindowStats.decode(record.value), let json = JSONValue.parse(bytes: record.value)
            else { return nil }
            if stats.end < now - historyMillis { return [] }
            return store.withState { $0.apply(stats: stats, json: json) }
        case topics.alerts:
            guard let alert = try? AlertTransition.decode(record.value), let json = JSONValue.parse(bytes: record.value)
            else { return nil }
            return store.withState { $0.apply(alert: alert, json: json) }
        case topics.deviceStatus:
            guard let status = try? DeviceStatusRecord.decode(record.value) else { return nil }
            return store.withState { $0.apply(status: status, now: now) }
        case topics.operatorActions:
            guard let action = try? OperatorRecord.decode(record.value) else { return nil }
            switch action {
            case .note(_, let device, let text, let author, let ts):
                let id = Self.noteID(partition: record.partition, offset: record.offset)
                return store.withState { $0.apply(noteID: id, device: device, text: text, author: author, ts: ts) }
            case .acknowledgement(let id, _, let by, let ts):
                guard emitAcknowledgedTransitions else { return [] }
                return store.withState { $0.acknowledge(id: id, by: by, ts: ts) }
            }
        default:
            return nil
        }
    }
}

extension HubRecordRouter {
    /// The events `record` stands for when it is replayed to a recovering client, without
    /// changing the hub's state: readings and windows (unless older than the history window),
    /// alert transitions, device status records, notes, and the `acknowledged` transition of an
    /// acknowledgement whose alert the hub knows. Events the hub derives from its state alone
    /// (`online` on a fresh reading, `offline` after the timeout) are not replayed; the client
    /// gets the current status from the next status change or `history`.
    func replayEvents(_ record: KafkaConsumerRecord, now: Int64) -> [HubEvent] {
        switch record.topic {
        case topics.readings:
            guard let reading = try? ReadingRecord.decode(record.value), reading.ts >= now - historyMillis,
                let json = JSONValue.parse(bytes: record.value)
            else { return [] }
            return [HubEvent(name: .reading, device: reading.device, payload: json)]
        case topics.stats:
            guard let stats = try? WindowStats.decode(record.value), stats.end >= now - historyMillis,
                let json = JSONValue.parse(bytes: record.value)
            else { return [] }
            return [HubEvent(name: .stats, device: stats.device, payload: json)]
        case topics.alerts:
            guard let alert = try? AlertTransition.decode(record.value), let json = JSONValue.parse(bytes: record.value)
            else { return [] }
            return [HubEvent(name: .alert, device: alert.device, payload: json)]
        case topics.deviceStatus:
            guard let status = try? DeviceStatusRecord.decode(record.value) else { return [] }
            return [HubEvent(name: .deviceStatus, device: status.device, payload: status.json)]
        case topics.operatorActions:
            guard let action = try? OperatorRecord.decode(record.value) else { return [] }
            switch action {
            case .note(_, let device, let text, let author, let ts):
                let id = Self.noteID(partition: record.partition, offset: record.offset)
                return [HubEvent(name: .note, device: device, payload: HubState.noteJSON(id: id, device: device, text: text, author: author, ts: ts))]
            case .acknowledgement(let id, _, let by, let ts):
                guard emitAcknowledgedTransitions,
                    let entry = store.withState({ $0.alerts[id] })
                else { return [] }
                var json = entry.json.setting("state", .string("acknowledged")).setting("ts", .int(ts))
                if let by { json = json.setting("ackedBy", .string(by)) }
                return [HubEvent(name: .alert, device: entry.transition.device, payload: json)]
            }
        default:
            return []
        }
    }
}
