import Metrics

/// The stage's metrics (swift-metrics; the CLI exports them as Prometheus text).
struct WindowingMetrics: Sendable {
    let readings = Counter(label: "fluxgate_windowing_readings_total")
    let replayed = Counter(label: "fluxgate_windowing_replayed_total")
    let produced = Counter(label: "fluxgate_windowing_produced_total")
    let retries = Counter(label: "fluxgate_windowing_retries_total")
    let acknowledgements = Counter(label: "fluxgate_windowing_acknowledgements_total")
    let snapshots = Counter(label: "fluxgate_windowing_snapshots_total")
    let snapshotBytes = Recorder(label: "fluxgate_windowing_snapshot_bytes")
    let deviceRecords = Counter(label: "fluxgate_windowing_device_records_total")
}
