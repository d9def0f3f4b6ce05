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
