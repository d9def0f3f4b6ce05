/// The state of one device in binary (``StateWriter``), so that a changelog can store devices one
/// by one and only those that changed.
///
/// Layout: a marker byte (0: no state, 1: state follows); `maxEventTs`, `lastArrival`, `watermark`
/// (signed); `lateReadings` (varint); the open windows, each as its window's `size` and `hop` (ms),
/// `start`, and its metrics by name, each a ``StatsAccumulator`` (count, mean, m2, min, max, last,
/// lastTs, then the sketch: positive and negative stores as offset, bucket count, counts; zero
/// count; count; min; max). Windows carry their shape, not an index into the configuration, so a
/// record restores under any configuration (windows whose shape is no longer configured close).
extension WindowAggregator {
    /// Limits applied when restoring (far above what the aggregator produces).
    public enum StateLimits {
        /// Open windows per device.
        public static let maxOpenWindows = 4096
        /// Metrics per open window.
        public static let maxMetrics = 1024
        /// Bytes of a metric name.
        public static let maxNameBytes = 256
    }

    /// Writes the state of `device`; writes only the marker and returns `false` when the
    /// aggregator holds none.
    @discardableResult
    public func encodeState(of device: DeviceID, into writer: inout StateWriter) -> Bool {
        guard let state = devices[device] else {
            writer.byte(0)
            return false
        }
        writer.byte(1)
        writer.signed(state.maxEventTs)
        writer.signed(state.lastArrival)
        writer.signed(state.watermark)
        writer.varint(state.lateReadings)
        writer.varint(UInt64(state.open.count))
        for key in state.open.keys.sorted() {
            let spec = configuration.windows[key.spec]
            writer.signed(spec.size)
            writer.signed(spec.hop)
            writer.signed(key.start)
            let metrics = state.open[key, default: [:]]
            writer.varint(UInt64(metrics.count))
            for name in metrics.keys.sorted() {
                writer.string(name)
                metrics[name, default: StatsAccumulator()].encode(into: &writer)
            }
        }
        return true
    }

    /// Replaces the state of `device` with one read from `reader` (as ``encodeState(of:into:)``
    /// wrote it; the marker 0 removes the device's state). Open windows whose shape is not in the
    /// configuration are closed: their final statistics are returned, ordered by window and metric.
    /// On error the aggregator is unchanged.
    public mutating func restoreState(of device: DeviceID, from reader: inout StateReader) throws(StateDecodingError)
        -> [WindowStats]
    {
        switch try reader.byte() {
        case 0:
            devices[device] = nil
            return []
        case 1:
            break
        case let other:
            throw StateDecodingError("window state marker \(other)")
        }
        var state = DeviceState()
        state.maxEventTs = try reader.signed()
        state.lastArrival = try reader.signed()
        state.watermark = try reader.signed()
        state.lateReadings = try reader.varint()
        var closed: [(spec: WindowSpec, start: Int64, metrics: [String: StatsAccumulator])] = []
        let windowCount = try reader.count(max: StateLimits.maxOpenWindows, of: "open windows")
        for _ in 0..<windowCount {
            let size = try reader.signed()
            let hop = try reader.signed()
            guard size > 0, hop > 0, hop <= size else { throw StateDecodingError("window \(size)/\(hop) ms is not a window") }
            let start = try reader.signed()
            let metricCount = try reader.count(max: StateLimits.maxMetrics, of: "metrics")
            var metrics: [String: StatsAccumulator] = [:]
            metrics.reserveCapacity(metricCount)
            for _ in 0..<metricCount {
                let name = try reader.string(maxBytes: StateLimits.maxNameBytes)
                metrics[name] = try StatsAccumulator(from: &reader)
            }
            let spec = WindowSpec(unchecked: size, hop: hop)
            if let index = configuration.windows.firstIndex(of: spec) {
                state.open[OpenWindow(spec: index, start: start)] = metrics
            } else {
                closed.append((spec, start, metrics))
            }
        }
        devices[device] = state
        closed.sort { ($0.spec.size, $0.spec.hop, $0.start) < ($1.spec.size, $1.spec.hop, $1.start) }
        return closed.flatMap { window in
            window.metrics.sorted { $0.key < $1.key }.map { metric, stats in
                WindowStats(device: device, metric: metric, spec: window.spec, start: window.start, stats: stats, final: true)
            }
        }
    }
}

extension StatsAccumulator {
    func encode(into writer: inout StateWriter) {
        writer.varint(count)
        writer.double(mean)
        writer.double(m2)
        writer.double(min)
        writer.double(max)
        writer.double(last)
        writer.signed(lastTs)
        sketch.encode(into: &writer)
    }

    init(from reader: inout StateReader) throws(StateDecodingError) {
        self.init(
            count: try reader.varint(), mean: try reader.double(), m2: try reader.double(), min: try reader.double(),
            max: try reader.double(), last: try reader.double(), lastTs: try reader.signed(),
            sketch: try QuantileSketch(from: &reader))
    }
}

extension QuantileSketch {
    func encode(into writer: inout StateWriter) {
        positive.encode(into: &writer)
        negative.encode(into: &writer)
        writer.varint(zeroCount)
        writer.varint(count)
        writer.double(min)
        writer.double(max)
    }

    init(from reader: inout StateReader) throws(StateDecodingError) {
        self.init(
            positive: try Store(from: &reader), negative: try Store(from: &reader), zeroCount: try reader.varint(),
            count: try reader.varint(), min: try reader.double(), max: try reader.double())
    }
}

extension QuantileSketch.Store {
    func encode(into writer: inout StateWriter) {
        writer.signed(Int64(offset))
        writer.varint(UInt64(counts.count))
        for count in counts { writer.varint(count) }
    }

    init(from reader: inout StateReader) throws(StateDecodingError) {
        self.init()
        let offset = try reader.signed()
        // Bucket indices of finite doubles above 1e-9 stay within a few tens of thousands.
        guard offset.magnitude <= 1 << 30 else { throw StateDecodingError("sketch offset \(offset) out of range") }
        self.offset = Int(offset)
        let n = try reader.count(max: QuantileSketch.maxBuckets, of: "sketch buckets")
        counts.reserveCapacity(n)
        for _ in 0..<n { counts.append(try reader.varint()) }
    }
}

extension WindowAggregator {
    /// Forgets the state of `device`.
    public mutating func removeState(of device: DeviceID) {
        devices[device] = nil
    }
}
