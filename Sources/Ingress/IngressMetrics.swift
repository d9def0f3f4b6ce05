import Metrics
import Telemetry

/// The ingress's metrics (swift-metrics; exported as Prometheus by the executable).
///
/// - `fluxgate_ingress_received_total`: MQTT messages received.
/// - `fluxgate_ingress_produced_total{kind}`: records Kafka confirmed, by kind
///   (`reading`, `status`, `deadletter`).
/// - `fluxgate_ingress_rejected_total{reason}`: inputs dead-lettered, by reason code.
/// - `fluxgate_ingress_in_flight`: messages received and not yet confirmed by Kafka.
/// - `fluxgate_ingress_produce_retries_total`: records produced again after Kafka refused them.
/// - `fluxgate_ingress_ack_latency_seconds`: per batch, from MQTT receive to Kafka confirmation
///   (when the MQTT acknowledgement is released).
struct IngressMetrics: Sendable {
    let received = Counter(label: "fluxgate_ingress_received_total")
    let producedReadings = Counter(label: "fluxgate_ingress_produced_total", dimensions: [("kind", "reading")])
    let producedStatus = Counter(label: "fluxgate_ingress_produced_total", dimensions: [("kind", "status")])
    let producedDeadLetters = Counter(label: "fluxgate_ingress_produced_total", dimensions: [("kind", "deadletter")])
    let inFlight = Gauge(label: "fluxgate_ingress_in_flight")
    let retries = Counter(label: "fluxgate_ingress_produce_retries_total")
    let ackLatency = Timer(label: "fluxgate_ingress_ack_latency_seconds", preferredDisplayUnit: .seconds)
    private let rejected: [RejectionReason: Counter] = Dictionary(
        uniqueKeysWithValues: RejectionReason.allCases.map {
            ($0, Counter(label: "fluxgate_ingress_rejected_total", dimensions: [("reason", $0.rawValue)]))
        }
    )

    func produced(_ outcome: IngressRouting.Outcome) {
        switch outcome {
        case .reading: producedReadings.increment()
        case .status: producedStatus.increment()
        case .rejected(let reason):
            producedDeadLetters.increment()
            rejected[reason]?.increment()
        }
    }
}
