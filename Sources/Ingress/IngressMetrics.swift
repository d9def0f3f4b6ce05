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

    /// Confirmed records of one `send`, counted first so that each counter moves once per batch.
    struct Tally {
        var readings = 0
        var status = 0
        var rejected: [RejectionReason: Int] = [:]

        mutating func add(_ outcome: IngressRouting.Outcome) {
            switch outcome {
            case .reading: readings += 1
            case .status: status += 1
            case .rejected(let reason): rejected[reason, default: 0] += 1
            }
        }
    }

    func produced(_ tally: Tally) {
        if tally.readings > 0 { producedReadings.increment(by: Int64(tally.readings)) }
        if tally.status > 0 { producedStatus.increment(by: Int64(tally.status)) }
        for (reason, count) in tally.rejected {
            producedDeadLetters.increment(by: Int64(count))
            rejected[reason]?.increment(by: Int64(count))
        }
    }
}
