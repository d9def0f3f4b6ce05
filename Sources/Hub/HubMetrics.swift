import Metrics

/// The hub's metrics (hub-api.md 2, `/metrics`), through swift-metrics: the process bootstraps
/// the Prometheus factory (the CLI does), tests may leave the no-op default.
struct HubMetrics: Sendable {
    let clients = Gauge(label: "fluxgate_hub_clients")
    let deviceSubscriptions = Gauge(label: "fluxgate_hub_subscriptions", dimensions: [("kind", "device")])
    let fleetSubscriptions = Gauge(label: "fluxgate_hub_subscriptions", dimensions: [("kind", "fleet")])
    let emitted: [HubEventName: Counter]
    let historyEmitted = Counter(label: "fluxgate_hub_events_emitted_total", dimensions: [("event", "history")])
    let droppedQueueOverflow = Counter(label: "fluxgate_hub_events_dropped_total", dimensions: [("reason", "queue-overflow")])
    let consumed: [String: Counter]
    let malformedRecords = Counter(label: "fluxgate_hub_kafka_records_malformed_total")
    let consumerLag = Gauge(label: "fluxgate_hub_kafka_consumer_lag")

    init(topics: [String]) {
        emitted = Dictionary(uniqueKeysWithValues: HubEventName.allCases.map {
            ($0, Counter(label: "fluxgate_hub_events_emitted_total", dimensions: [("event", $0.rawValue)]))
        })
        consumed = Dictionary(uniqueKeysWithValues: topics.map {
            ($0, Counter(label: "fluxgate_hub_kafka_records_consumed_total", dimensions: [("topic", $0)]))
        })
    }

    func clientMessage(event: String, result: String) {
        Counter(label: "fluxgate_hub_client_messages_total", dimensions: [("event", event), ("result", result)]).increment()
    }

    func connectionRefused(reason: String) {
        Counter(label: "fluxgate_hub_connections_refused_total", dimensions: [("reason", reason)]).increment()
    }

    func recovery(recovered: Bool) {
        Counter(label: "fluxgate_hub_recoveries_total", dimensions: [("result", recovered ? "recovered" : "not-recovered")])
            .increment()
    }

    func httpRequest(path: String, status: Int) {
        Counter(label: "fluxgate_hub_http_requests_total", dimensions: [("path", path), ("status", String(status))])
            .increment()
    }
}
