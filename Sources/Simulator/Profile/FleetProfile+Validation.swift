import Foundation

extension FleetProfile {
    /// The most devices one fleet may have.
    public static let maximumDevices = 100_000

    /// Checks what the generator relies on (names, ranges, unique ids). The parser calls this;
    /// call it yourself for profiles built in code. `file` names the profile in errors.
    public func validate(file: String = "<memory>") throws(ProfileError) {
        guard !types.isEmpty else {
            throw ProfileError(
                code: .missingField,
                file: file,
                field: "types",
                message: "needs at least one device type"
            )
        }
        guard deviceCount <= Self.maximumDevices else {
            throw ProfileError(
                code: .outOfRange,
                file: file,
                field: "count",
                message: "the fleet has \(deviceCount) devices; at most \(Self.maximumDevices) are allowed"
            )
        }
        var typeNames = Set<String>()
        for type in types {
            func fail(_ code: ProfileError.Code, metric: String? = nil, _ field: String, _ message: String)
                -> ProfileError
            {
                ProfileError(
                    code: code,
                    file: file,
                    deviceType: type.name,
                    metric: metric,
                    field: field,
                    message: message
                )
            }
            guard NameRules.isValidDeviceID(type.name) else {
                throw fail(.invalidName, "name", "must match [A-Za-z0-9_-]{1,64}")
            }
            guard typeNames.insert(type.name).inserted else {
                throw fail(.duplicate, "name", "another type has the same name; type names must be unique")
            }
            guard type.count >= 1 else { throw fail(.outOfRange, "count", "must be at least 1") }
            guard type.rate.isFinite, type.rate > 0, type.rate <= 1000 else {
                throw fail(.outOfRange, "rate", "must be > 0 and <= 1000 readings per second, got \(type.rate)")
            }
            guard (0...2).contains(type.qos) else { throw fail(.outOfRange, "qos", "must be 0, 1 or 2") }
            guard (1...64).contains(type.metrics.count) else {
                throw fail(.outOfRange, "metrics", "needs 1 to 64 metrics, got \(type.metrics.count)")
            }
            var metricNames = Set<String>()
            for metric in type.metrics {
                guard NameRules.isValidMetricName(metric.name) else {
                    throw fail(.invalidName, metric: metric.name, "name", "must match [A-Za-z0-9_.-]{1,64}")
                }
                guard metricNames.insert(metric.name).inserted else {
                    throw fail(.duplicate, metric: metric.name, "name", "appears twice in this type; rename one")
                }
                let numbers: [Double?] = [
                    metric.baseline, metric.driftPerHour, metric.daily?.amplitude, metric.noise?.stddev,
                    metric.spikes?.magnitude, metric.minimum, metric.maximum,
                ]
                guard numbers.allSatisfy({ $0?.isFinite ?? true }) else {
                    throw fail(.outOfRange, metric: metric.name, "baseline", "every number must be finite")
                }
                if let spikes = metric.spikes {
                    try checkDevices(spikes.event, of: type, field: "spikes.devices", metric: metric.name, file: file)
                }
                if let stuck = metric.stuck {
                    try checkDevices(stuck, of: type, field: "stuck.devices", metric: metric.name, file: file)
                }
            }
            if let offline = type.offline {
                try checkDevices(offline, of: type, field: "offline.devices", metric: nil, file: file)
            }
        }
        var seen: [String: String] = [:]
        for device in devices {
            let type = types[device.typeIndex]
            guard NameRules.isValidDeviceID(device.id) else {
                throw ProfileError(
                    code: .invalidName,
                    file: file,
                    deviceType: type.name,
                    field: "id",
                    message: "pattern '\(type.idPattern)' makes id '\(device.id)', which does not match "
                        + "[A-Za-z0-9_-]{1,64}; use only letters, digits, '_' and '-'"
                )
            }
            if let other = seen.updateValue(type.name, forKey: device.id) {
                throw ProfileError(
                    code: .duplicate,
                    file: file,
                    deviceType: type.name,
                    field: "id",
                    message: "device id '\(device.id)' is also made by type '\(other)'; give the types different id "
                        + "patterns or 'first' numbers"
                )
            }
        }
    }

    private func checkDevices(
        _ event: EventProfile,
        of type: DeviceTypeProfile,
        field: String,
        metric: String?,
        file: String
    ) throws(ProfileError) {
        let numbers = type.firstNumber...(type.firstNumber + type.count - 1)
        if let unknown = event.devices?.sorted().first(where: { !numbers.contains($0) }) {
            throw ProfileError(
                code: .outOfRange,
                file: file,
                deviceType: type.name,
                metric: metric,
                field: field,
                message: "device number \(unknown) does not exist; this type numbers its devices "
                    + "\(numbers.lowerBound) to \(numbers.upperBound)"
            )
        }
        let valid: Bool
        switch event.trigger {
        case .probability(let p): valid = (0...1).contains(p)
        case .schedule(let every, let at): valid = every > event.durationMilliseconds && at >= 0
        }
        guard valid, event.durationMilliseconds > 0 else {
            throw ProfileError(
                code: .outOfRange,
                file: file,
                deviceType: type.name,
                metric: metric,
                field: field.replacingOccurrences(of: ".devices", with: ""),
                message: "needs a probability from 0 to 1, or 'every' longer than 'duration' (> 0)"
            )
        }
    }
}
