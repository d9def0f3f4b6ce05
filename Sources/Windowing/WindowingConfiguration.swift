import Telemetry

/// Configuration of the ``WindowingService``. Every field has a documented default.
public struct WindowingServiceConfiguration: Sendable {
    /// Topic names (prefix `fluxgate.` by default).
    public var topics = FluxgateTopics()
    /// Windows, lateness and alert rules. Default: ``TelemetryConfiguration/standard``.
    public var telemetry = TelemetryConfiguration.standard
    /// How often, at most, the statistics of a device's open windows are published as live
    /// updates (`final: false`): the first at the tick after a reading that follows a quiet
    /// interval, then every interval while readings come. Each device keeps its own rhythm, so a
    /// fleet's updates spread over the interval. `nil` disables live updates. Default 5 s.
    public var statsUpdateInterval: Duration? = .seconds(5)
    /// How often buffered outputs are produced and the wall clock is applied (`advance(now:)`),
    /// closing windows of silent devices and firing offline rules. Default 50 ms.
    public var flushInterval: Duration = .milliseconds(50)
    /// Outputs buffered before a flush is forced regardless of ``flushInterval``. Default 5 000.
    public var maxPendingOutputs = 5_000
    /// Least time between two snapshots of one partition's state to the changelog topic. Input
    /// offsets are committed only up to the last confirmed snapshot, so this bounds the replay
    /// after a restart. A snapshot writes one record per device whose state changed since the
    /// last one, then the partition record (docs/windowing.md). Default 5 s.
    public var snapshotInterval: Duration = .seconds(5)
    /// How often a snapshot rewrites the record of every device of a partition, changed or not, so
    /// that a changelog that truncates instead of compacting (the dev cluster keeps the newest
    /// 5 MiB of a partition) still holds every device's newest record as long as this much of
    /// changelog fits. `nil`: only changed devices, ever (enough on a compacted topic).
    /// Default 60 s.
    public var fullSnapshotInterval: Duration? = .seconds(60)
    /// Backoff between attempts when Kafka refuses outputs. Default 100 ms doubling to 5 s.
    public var retryBackoff: (minimum: Duration, maximum: Duration) = (.milliseconds(100), .seconds(5))
    /// How long restoring the changelog may take before the stage gives up with an error.
    /// Default 60 s.
    public var restoreTimeout: Duration = .seconds(60)

    /// The compacted changelog topic holding partition snapshots: `<prefix>windowing-state`.
    public var changelogTopic: String { topics.prefix + "windowing-state" }

    /// The default configuration.
    public init() {}
}
