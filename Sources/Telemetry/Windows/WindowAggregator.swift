/// Windowing settings, with defaults that suit the demo fleet.
public struct WindowingConfiguration: Sendable, Hashable, Codable {
    /// The windows to compute. Default: tumbling 10 s and 1 min.
    public var windows: [WindowSpec] = [.tumbling(.seconds(10)), .tumbling(.minutes(1))]
    /// How far behind the newest event time of a device a reading may be and still count. Default 2 s.
    public var allowedLateness = TimeSpan.seconds(2)
    /// Extra wall-clock wait before windows of a silent device are closed by ``WindowAggregator/advance(now:)``.
    /// Default 1 s.
    public var idleGrace = TimeSpan.seconds(1)

    /// The defaults.
    public init() {}

    /// Custom settings.
    public init(windows: [WindowSpec], allowedLateness: TimeSpan = .seconds(2), idleGrace: TimeSpan = .seconds(1)) {
        self.windows = windows
        self.allowedLateness = allowedLateness
        self.idleGrace = idleGrace
    }
}

/// What ingesting one reading did.
public struct WindowIngestResult: Sendable, Hashable {
    /// Windows that closed because this reading advanced the device's watermark, in a stable order.
    public var closed: [WindowStats] = []
    /// How many of the reading's windows had already closed (its values are not in them).
    public var lateWindows = 0
    /// How many of the reading's windows took its values.
    public var acceptedWindows = 0

    /// Whether the reading was late for at least one of its windows (counted and flagged).
    public var isLate: Bool { lateWindows > 0 }
    /// Whether every window of the reading had closed, so it changed nothing (dead-letter it as `late-reading`).
    public var isDropped: Bool { acceptedWindows == 0 }

    /// A `late-reading` rejection when the reading was dropped, for the dead-letter topic.
    public var rejection: ReadingRejection? {
        guard isDropped else { return nil }
        return ReadingRejection(
            .lateReading,
            lateWindows > 0
                ? "every window of this reading had closed (\(lateWindows)); it arrived after the allowed lateness"
                : "the reading's timestamp is outside the range the windows cover")
    }
}

/// Event-time windows per device with watermarks, as a pure, `Codable` state machine.
///
/// Semantics (docs/telemetry.md):
/// - A device's watermark is `max event ts seen - allowedLateness` and never goes back.
/// - A reading joins every window `[start, end)` that contains its `ts` and is still open
///   (`end > watermark`); windows with `end <= watermark` have closed, and the reading is counted
///   as late for them (``WindowIngestResult/lateWindows``) instead of being merged.
/// - Windows close, emitting a `final` ``WindowStats`` per metric, when the watermark reaches their end.
/// - ``advance(now:)`` moves silent devices on by wall clock: the watermark becomes at least
///   `maxEventTs + (now - lastArrival) - allowedLateness - idleGrace`, assuming event time runs
///   with the wall clock since the device's last reading.
public struct WindowAggregator: Sendable, Codable {
    /// Per-device state.
    public struct DeviceState: Sendable, Hashable, Codable {
        /// Newest event time seen.
        public var maxEventTs: Int64 = .min
        /// Wall clock of the newest arrival.
        public var lastArrival: Int64 = .min
        /// Windows with `end <= watermark` are closed.
        public var watermark: Int64 = .min
        /// Readings that were late for at least one window.
        public var lateReadings: UInt64 = 0
        /// Open windows: spec index, start, metric name -> statistics.
        var open: [OpenWindow: [String: StatsAccumulator]] = [:]
    }

    struct OpenWindow: Sendable, Hashable, Codable, Comparable {
        var spec: Int
        var start: Int64

        static func < (a: OpenWindow, b: OpenWindow) -> Bool { (a.spec, a.start) < (b.spec, b.start) }
    }

    /// The configuration.
    public private(set) var configuration: WindowingConfiguration
    /// State per device.
    public internal(set) var devices: [DeviceID: DeviceState] = [:]

    /// Creates an empty aggregator.
    public init(configuration: WindowingConfiguration = .init()) {
        self.configuration = configuration
    }

    /// Readings with `|ts|` above this (about 285 000 years) are ignored (`isDropped`).
    public static let maxMagnitude: UInt64 = 1 << 53

    /// Readings that were late for at least one window, over all devices.
    public var lateReadings: UInt64 { devices.values.reduce(0) { $0 + $1.lateReadings } }

    /// Adds a reading that arrived at wall-clock `arrivedAt` (epoch ms), closing windows the new
    /// watermark passes.
    public mutating func ingest(_ reading: Reading, arrivedAt: Int64) -> WindowIngestResult {
        // Window arithmetic stays far from overflow: decoded readings are within 0...year 9999.
        guard reading.ts.magnitude <= Self.maxMagnitude else { return WindowIngestResult() }
        // In place: a copy of the device's state taken out of `devices` would copy its windows'
        // dictionaries and sketch arrays on the first change (the hot path of the stage).
        return Self.ingest(reading, arrivedAt: arrivedAt, configuration: configuration, into: &devices[reading.device, default: DeviceState()])
    }

    private static func ingest(
        _ reading: Reading, arrivedAt: Int64, configuration: WindowingConfiguration, into state: inout DeviceState
    ) -> WindowIngestResult {
        var result = WindowIngestResult()
        for (index, spec) in configuration.windows.enumerated() {
            for start in spec.starts(containing: reading.ts) {
                if start + spec.size <= state.watermark {
                    result.lateWindows += 1
                    continue
                }
                result.acceptedWindows += 1
                add(reading, to: &state.open[OpenWindow(spec: index, start: start), default: [:]])
            }
        }
        if result.isLate { state.lateReadings += 1 }
        state.maxEventTs = max(state.maxEventTs, reading.ts)
        state.lastArrival = max(state.lastArrival, arrivedAt)
        let watermark = state.maxEventTs.saturatingSubtract(configuration.allowedLateness.milliseconds)
        if watermark > state.watermark {
            state.watermark = watermark
            result.closed = close(&state, device: reading.device, configuration: configuration)
        }
        return result
    }

    private static func add(_ reading: Reading, to metrics: inout [String: StatsAccumulator]) {
        for metric in reading.metrics {
            metrics[metric.name, default: StatsAccumulator()].add(metric.value, ts: reading.ts)
        }
    }

    /// Moves the watermarks of silent devices on by wall clock `now` (epoch ms) and returns the
    /// windows that closed, ordered by device, window and metric.
    public mutating func advance(now: Int64) -> [WindowStats] {
        let lag = configuration.allowedLateness.milliseconds.saturatingAdd(configuration.idleGrace.milliseconds)
        func projected(_ state: DeviceState) -> Int64? {
            guard state.maxEventTs != .min, now > state.lastArrival else { return nil }
            let projected = state.maxEventTs.saturatingAdd(now.saturatingSubtract(state.lastArrival)).saturatingSubtract(lag)
            return projected > state.watermark ? projected : nil
        }
        // Called on every tick: find the few devices that move before sorting anything.
        var moving: [DeviceID] = []
        for (device, state) in devices where projected(state) != nil { moving.append(device) }
        guard !moving.isEmpty else { return [] }
        var output: [WindowStats] = []
        let configuration = self.configuration
        for device in moving.sorted() {
            guard let watermark = devices[device].flatMap(projected) else { continue }
            output += Self.advance(
                &devices[device, default: DeviceState()], to: watermark, device: device, configuration: configuration)
        }
        return output
    }

    private static func advance(
        _ state: inout DeviceState, to watermark: Int64, device: DeviceID, configuration: WindowingConfiguration
    ) -> [WindowStats] {
        state.watermark = watermark
        return close(&state, device: device, configuration: configuration)
    }

    /// Live (not final) statistics of the open windows of `device`, ordered by window and metric.
    public func openStatistics(device: DeviceID) -> [WindowStats] {
        guard let state = devices[device] else { return [] }
        return state.open.keys.sorted().flatMap { key in
            state.open[key, default: [:]].sorted { $0.key < $1.key }.map { metric, stats in
                WindowStats(
                    device: device, metric: metric, spec: configuration.windows[key.spec], start: key.start,
                    stats: stats, final: false)
            }
        }
    }

    /// Switches to a new configuration, e.g. after restoring a snapshot taken under an older rules
    /// file. Open windows of specs that remain carry on; those of removed specs are closed and
    /// returned (ordered by device, window and metric). Watermarks are kept.
    public mutating func reconfigure(_ newConfiguration: WindowingConfiguration) -> [WindowStats] {
        var output: [WindowStats] = []
        let oldSpecs = configuration.windows
        for device in devices.keys.sorted() {
            guard var state = devices[device] else { continue }
            let removed = state.open.keys.filter { !newConfiguration.windows.contains(oldSpecs[$0.spec]) }.sorted()
            output += Self.emit(&state, device: device, keys: removed, configuration: configuration)
            var remapped: [OpenWindow: [String: StatsAccumulator]] = [:]
            for (key, metrics) in state.open {
                guard let index = newConfiguration.windows.firstIndex(of: oldSpecs[key.spec]) else { continue }
                remapped[OpenWindow(spec: index, start: key.start)] = metrics
            }
            state.open = remapped
            devices[device] = state
        }
        configuration = newConfiguration
        return output
    }

    /// Closes every open window (end of input, or a test); device watermarks are left as they were.
    public mutating func closeAll() -> [WindowStats] {
        var output: [WindowStats] = []
        for device in devices.keys.sorted() {
            guard var state = devices[device] else { continue }
            output += Self.emit(&state, device: device, keys: state.open.keys.sorted(), configuration: configuration)
            devices[device] = state
        }
        return output
    }

    private static func close(_ state: inout DeviceState, device: DeviceID, configuration: WindowingConfiguration)
        -> [WindowStats]
    {
        let watermark = state.watermark
        func isDue(_ key: OpenWindow) -> Bool {
            key.start.saturatingAdd(configuration.windows[key.spec].size) <= watermark
        }
        // Most readings move the watermark without closing a window: check before allocating.
        guard state.open.keys.contains(where: isDue) else { return [] }
        return emit(&state, device: device, keys: state.open.keys.filter(isDue).sorted(), configuration: configuration)
    }

    private static func emit(
        _ state: inout DeviceState, device: DeviceID, keys: [OpenWindow], configuration: WindowingConfiguration
    ) -> [WindowStats] {
        var output: [WindowStats] = []
        for key in keys {
            guard let metrics = state.open.removeValue(forKey: key) else { continue }
            for (metric, stats) in metrics.sorted(by: { $0.key < $1.key }) {
                output.append(
                    WindowStats(
                        device: device, metric: metric, spec: configuration.windows[key.spec], start: key.start,
                        stats: stats, final: true))
            }
        }
        return output
    }
}
