import Foundation
import Yams

/// Reads fleet profiles (YAML, see `docs/simulator.md`) into ``FleetProfile`` values.
///
/// Never crashes on bad input: every problem becomes a ``ProfileError`` naming the file, the
/// line, the device type, the metric and the field, with what to change.
public enum FleetProfileParser {
    /// Loads and validates the profile at `path`.
    public static func load(path: String) throws(ProfileError) -> FleetProfile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ProfileError(
                code: .unreadable,
                file: path,
                message: "cannot read the file (\(error.localizedDescription)); check the path, e.g. devices/demo.yaml"
            )
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and validates profile text; `file` names it in errors.
    public static func parse(yaml: String, file: String = "<memory>") throws(ProfileError) -> FleetProfile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ProfileError(
                code: .yamlSyntax,
                file: file,
                message: "not valid YAML: \(error); check indentation and quoting"
            )
        }
        let location = ProfileLocation(file: file)
        guard let root else {
            throw ProfileError(
                code: .missingField,
                file: file,
                field: "types",
                message: "the file is empty; add 'types:'"
            )
        }
        let top = try MappingReader(root, at: location, what: "a fleet profile")
        try top.rejectUnknown(["seed", "description", "types"])
        _ = try top.string("description")
        var seed: UInt64 = 1
        if let node = top.value("seed") {
            guard let text = node.scalar?.string, let value = UInt64(text.trimmingSpaces()) else {
                throw location.error(
                    .wrongType,
                    node,
                    field: "seed",
                    "must be a whole number from 0 to \(UInt64.max), got \(describe(node))"
                )
            }
            seed = value
        }
        let typeNodes = try top.sequence("types") ?? []
        guard !typeNodes.isEmpty else {
            throw location.error(
                .missingField,
                top.value("types") ?? root,
                field: "types",
                "needs at least one device type, e.g. '- name: greenhouse'"
            )
        }
        var types: [DeviceTypeProfile] = []
        for (index, node) in typeNodes.enumerated() {
            types.append(try parseType(node, index: index, location: location))
        }
        let fleet = FleetProfile(seed: seed, types: types)
        try fleet.validate(file: file)
        return fleet
    }

    private static func parseType(_ node: Node, index: Int, location: ProfileLocation) throws(ProfileError)
        -> DeviceTypeProfile
    {
        var location = location
        location.deviceType = "#\(index + 1)"
        let reader = try MappingReader(node, at: location, what: "a device type")
        let nameNode = try reader.required("name", "a type name such as 'greenhouse'")
        guard let name = nameNode.scalar?.string, NameRules.isValidDeviceID(name) else {
            throw location.error(
                .invalidName,
                nameNode,
                field: "name",
                "must match [A-Za-z0-9_-]{1,64}, got \(describe(nameNode))"
            )
        }
        location.deviceType = name
        let reader2 = try MappingReader(node, at: location, what: "a device type")
        try reader2.rejectUnknown([
            "name", "description", "count", "id", "first", "rate", "qos", "metrics", "offline", "late",
        ])
        _ = try reader2.string("description")
        let count = try reader2.integer("count", 1...100_000) ?? 1
        let first = try reader2.integer("first", 0...1_000_000_000) ?? 1
        var pattern = IDPattern.defaultPattern
        if let text = try reader2.string("id") {
            switch IDPattern.parse(text) {
            case .success(let parsed): pattern = parsed
            case .failure(let failure):
                throw location.error(.invalidPattern, reader2.value("id"), field: "id", failure.message)
            }
        }
        let rate = try reader2.double("rate", 0.000_001...1000, rangeText: "readings per second, > 0 and <= 1000") ?? 1
        let qos = try reader2.integer("qos", 0...2) ?? 1
        let metricNodes = try reader2.sequence("metrics") ?? []
        guard (1...64).contains(metricNodes.count) else {
            throw location.error(
                metricNodes.isEmpty ? .missingField : .outOfRange,
                reader2.value("metrics") ?? node,
                field: "metrics",
                "needs 1 to 64 metrics (the payload contract's limit), got \(metricNodes.count)"
            )
        }
        var metrics: [MetricProfile] = []
        for (metricIndex, metricNode) in metricNodes.enumerated() {
            metrics.append(try parseMetric(metricNode, index: metricIndex, location: location))
        }
        var offline: EventProfile?
        if let offlineNode = reader2.value("offline") {
            offline = try parseEvent(
                offlineNode,
                location: reader2.nested("offline"),
                defaultDuration: 60_000,
                extraFields: []
            ).event
        }
        var late: LatenessProfile?
        if let lateNode = reader2.value("late") {
            let lateReader = try MappingReader(lateNode, at: reader2.nested("late"), what: "'late'")
            try lateReader.rejectUnknown(["fraction", "minDelay", "maxDelay"])
            guard let fraction = try lateReader.double("fraction", 0...1, rangeText: "a probability from 0 to 1")
            else { throw missing(lateReader, "fraction", "the share of late readings, e.g. 0.02") }
            guard let maxDelay = try lateReader.duration("maxDelay", minimum: 1) else {
                throw missing(lateReader, "maxDelay", "the longest delay, e.g. 5s")
            }
            let minDelay = try lateReader.duration("minDelay", minimum: 1)
            if let minDelay, minDelay > maxDelay {
                throw lateReader.location.error(
                    .conflictingFields,
                    lateReader.value("minDelay"),
                    field: lateReader.location.field("minDelay"),
                    "must not exceed maxDelay (\(DurationText.format(maxDelay)))"
                )
            }
            late = LatenessProfile(fraction: fraction, minDelayMilliseconds: minDelay, maxDelayMilliseconds: maxDelay)
        }
        return DeviceTypeProfile(
            name: name,
            count: count,
            idPattern: pattern,
            firstNumber: first,
            rate: rate,
            qos: qos,
            metrics: metrics,
            offline: offline,
            late: late
        )
    }

    private static func parseMetric(_ node: Node, index: Int, location: ProfileLocation) throws(ProfileError)
        -> MetricProfile
    {
        var location = location
        location.metric = "#\(index + 1)"
        let probe = try MappingReader(node, at: location, what: "a metric")
        let nameNode = try probe.required("name", "a metric name such as 'temperature'")
        guard let name = nameNode.scalar?.string, NameRules.isValidMetricName(name) else {
            throw location.error(
                .invalidName,
                nameNode,
                field: "name",
                "must match [A-Za-z0-9_.-]{1,64}, got \(describe(nameNode))"
            )
        }
        location.metric = name
        let reader = try MappingReader(node, at: location, what: "a metric")
        try reader.rejectUnknown([
            "name", "description", "unit", "baseline", "daily", "noise", "drift", "decimals", "min", "max", "spikes",
            "stuck",
        ])
        _ = try reader.string("description")
        _ = try reader.string("unit")
        let baseline = try reader.double("baseline") ?? 0
        let drift = try reader.double("drift") ?? 0
        let decimals = try reader.integer("decimals", 0...9) ?? 2
        let minimum = try reader.double("min")
        let maximum = try reader.double("max")
        if let minimum, let maximum, minimum > maximum {
            throw location.error(
                .conflictingFields,
                reader.value("min"),
                field: "min",
                "must not exceed max (\(maximum))"
            )
        }
        var daily: DailyCycle?
        if let dailyNode = reader.value("daily") {
            let dailyReader = try MappingReader(dailyNode, at: reader.nested("daily"), what: "'daily'")
            try dailyReader.rejectUnknown(["amplitude", "period", "phase"])
            guard let amplitude = try dailyReader.double("amplitude") else {
                throw missing(dailyReader, "amplitude", "the peak deviation from the baseline, e.g. 3")
            }
            let period = try dailyReader.duration("period", minimum: 1000) ?? 86_400_000
            var phase: Double?
            if let phaseNode = dailyReader.value("phase"), phaseNode.scalar?.string != "random" {
                phase = try dailyReader.double("phase", -360...360, rangeText: "'random' or degrees from -360 to 360")
            }
            daily = DailyCycle(amplitude: amplitude, periodMilliseconds: period, phaseDegrees: phase)
        }
        var noise: NoiseProfile?
        if let noiseNode = reader.value("noise") {
            if case .mapping = noiseNode {
                let noiseReader = try MappingReader(noiseNode, at: reader.nested("noise"), what: "'noise'")
                try noiseReader.rejectUnknown(["stddev", "clamp"])
                guard
                    let stddev = try noiseReader.double("stddev", 0...Double.greatestFiniteMagnitude, rangeText: ">= 0")
                else { throw missing(noiseReader, "stddev", "the standard deviation, e.g. 0.2") }
                let clamp =
                    try noiseReader.double("clamp", 0.1...10, rangeText: "from 0.1 to 10 standard deviations") ?? 4
                noise = NoiseProfile(stddev: stddev, clamp: clamp)
            } else if let stddev = try reader.double(
                "noise",
                0...Double.greatestFiniteMagnitude,
                rangeText: "(a standard deviation >= 0, or 'stddev:' and 'clamp:')"
            ) {
                noise = NoiseProfile(stddev: stddev)
            }
        }
        var spikes: SpikeProfile?
        if let spikeNode = reader.value("spikes") {
            let parsed = try parseEvent(
                spikeNode,
                location: reader.nested("spikes"),
                defaultDuration: 10_000,
                extraFields: ["magnitude"]
            )
            guard let magnitude = try parsed.reader.double("magnitude") else {
                throw missing(
                    parsed.reader,
                    "magnitude",
                    "how far above the signal a spike goes, e.g. 15 (negative for dips)"
                )
            }
            spikes = SpikeProfile(event: parsed.event, magnitude: magnitude)
        }
        var stuck: EventProfile?
        if let stuckNode = reader.value("stuck") {
            stuck = try parseEvent(
                stuckNode,
                location: reader.nested("stuck"),
                defaultDuration: 10_000,
                extraFields: []
            ).event
        }
        return MetricProfile(
            name: name,
            baseline: baseline,
            daily: daily,
            noise: noise,
            driftPerHour: drift,
            decimals: decimals,
            minimum: minimum,
            maximum: maximum,
            spikes: spikes,
            stuck: stuck
        )
    }

    static func missing(_ reader: MappingReader, _ key: String, _ hint: String) -> ProfileError {
        reader.location.error(.missingField, reader.node, field: reader.location.field(key), "is required: \(hint)")
    }
}
