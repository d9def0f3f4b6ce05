import Telemetry

/// The windowing state of one readings partition: the aggregator and evaluator after every
/// record of the partition below ``nextOffset``. Stored in the changelog topic as one
/// ``PartitionRecord`` plus one device record per device (see ``StateRecords``).
struct PartitionState: Sendable {
    /// The readings topic.
    var topic: String
    /// The readings partition.
    var partition: Int
    /// The first offset not yet in the state; `nil` when no record has been applied.
    var nextOffset: Int64?
    /// The greatest arrival time (epoch ms, `fluxgate-received-at`) of the records applied:
    /// the partition's clock restarts from it after a restore (see ``PartitionProcessor``).
    var maxArrivedAt: Int64?
    /// Windows of the partition's devices.
    var aggregator: WindowAggregator
    /// Alert state of the partition's devices.
    var evaluator: AlertEvaluator

    /// An empty state under `configuration`.
    init(topic: String, partition: Int, configuration: TelemetryConfiguration) {
        self.topic = topic
        self.partition = partition
        self.aggregator = WindowAggregator(configuration: configuration.windowing)
        self.evaluator = AlertEvaluator(rules: configuration.rules)
    }

    /// The device record of `device` (format ``StateRecords/format``): the offset of the device's
    /// last reading applied, its windows and its alert state; `nil` when the state holds nothing
    /// of the device (write a tombstone).
    func deviceRecord(_ device: DeviceID, appliedThrough: Int64) -> [UInt8]? {
        var writer = StateWriter(capacity: 512)
        writer.byte(StateRecords.format)
        writer.signed(appliedThrough)
        let windows = aggregator.encodeState(of: device, into: &writer)
        let alerts = evaluator.encodeState(of: device, into: &writer)
        return windows || alerts ? writer.bytes : nil
    }

    /// Restores `device` from its device record under the current configuration; returns the
    /// offset of its last reading applied, and what the configuration change emitted (windows of
    /// shapes no longer configured close; alerts of rules changed or removed clear at `now`).
    /// On error the device has no state.
    mutating func restoreDevice(_ device: DeviceID, from bytes: [UInt8], now: Int64) throws(StateDecodingError)
        -> (appliedThrough: Int64, outputs: [WindowingOutput])
    {
        var reader = try StateRecords.reader(bytes)
        do throws(StateDecodingError) {
            let appliedThrough = try reader.signed()
            var outputs = try aggregator.restoreState(of: device, from: &reader).map(WindowingOutput.stats)
            outputs += try evaluator.restoreState(of: device, from: &reader, at: now).map(WindowingOutput.alert)
            guard reader.isAtEnd else { throw StateDecodingError("bytes after the device state") }
            return (appliedThrough, outputs)
        } catch {
            aggregator.removeState(of: device)
            evaluator.removeState(of: device)
            throw error
        }
    }
}

/// The partition record of the changelog: the offset the partition's state covers and its clock.
struct PartitionRecord: Sendable, Hashable {
    /// The first readings offset not in the state (`nil`: none applied yet).
    var nextOffset: Int64?
    /// The greatest arrival time applied.
    var maxArrivedAt: Int64?

    /// Format byte, then each field as a presence byte and a signed varint.
    func encoded() -> [UInt8] {
        var writer = StateWriter(capacity: 24)
        writer.byte(StateRecords.format)
        for field in [nextOffset, maxArrivedAt] {
            if let field {
                writer.byte(1)
                writer.signed(field)
            } else {
                writer.byte(0)
            }
        }
        return writer.bytes
    }

    /// Decodes a partition record; throws for another format or corrupt bytes.
    static func decode(_ bytes: [UInt8]) throws(StateDecodingError) -> PartitionRecord {
        var reader = try StateRecords.reader(bytes)
        func field() throws(StateDecodingError) -> Int64? {
            switch try reader.byte() {
            case 0: return nil
            case 1: return try reader.signed()
            case let other: throw StateDecodingError("presence marker \(other)")
            }
        }
        let record = PartitionRecord(nextOffset: try field(), maxArrivedAt: try field())
        guard reader.isAtEnd else { throw StateDecodingError("bytes after the partition record") }
        return record
    }
}

/// Keys and formats of the changelog topic `<prefix>windowing-state` (one partition, compacted):
///
/// - `<readings topic>/<partition>`: the ``PartitionRecord``, written after the device records
///   of the same snapshot are confirmed;
/// - `<readings topic>/<partition>/<device>`: a device record (``PartitionState/deviceRecord(_:appliedThrough:)``),
///   written when the device's state changed since the last snapshot; an empty value
///   (tombstone) when the state holds nothing of the device.
enum StateRecords {
    /// The format byte every value starts with. Format 1 (whole-partition JSON snapshots) is no
    /// longer read: such a partition starts empty from its committed offset.
    static let format: UInt8 = 2

    /// A reader positioned after the format byte of a changelog value; throws for another format.
    static func reader(_ bytes: [UInt8]) throws(StateDecodingError) -> StateReader {
        var reader = StateReader(bytes)
        let found = try reader.byte()
        guard found == format else { throw StateDecodingError("format \(found), expected \(format)") }
        return reader
    }

    /// A parsed changelog key.
    enum Key: Sendable, Hashable {
        case partition(topic: String, partition: Int)
        case device(topic: String, partition: Int, device: DeviceID)

        /// The key of the partition record this key belongs to.
        var partitionKey: String {
            switch self {
            case .partition(let topic, let partition), .device(let topic, let partition, _):
                StateRecords.partitionKey(topic: topic, partition: partition)
            }
        }
    }

    static func partitionKey(topic: String, partition: Int) -> String { "\(topic)/\(partition)" }

    static func deviceKey(topic: String, partition: Int, device: DeviceID) -> String {
        "\(topic)/\(partition)/\(device.rawValue)"
    }

    /// Parses a key (topic names and device ids cannot contain `/`); `nil` for anything else.
    static func parse(_ key: String) -> Key? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, !parts[0].isEmpty, let partition = Int(parts[1]), partition >= 0
        else { return nil }
        let topic = String(parts[0])
        if parts.count == 2 { return .partition(topic: topic, partition: partition) }
        guard let device = DeviceID(parts[2]) else { return nil }
        return .device(topic: topic, partition: partition, device: device)
    }
}
