/// A simulated fleet: device types, how many of each, and how their metrics behave.
///
/// Built by ``FleetProfileParser`` from a YAML file in `devices/` (see `docs/simulator.md`), or
/// directly in code. Values are validated by the parser; ``FleetProfile/validate(file:)`` runs
/// the same checks on a profile built in code.
public struct FleetProfile: Sendable, Hashable {
    /// The seed of every random choice the generator makes. Default `1`.
    public var seed: UInt64
    /// The device types, in file order (which is also the device order of the generator).
    public var types: [DeviceTypeProfile]

    /// Creates a fleet.
    public init(seed: UInt64 = 1, types: [DeviceTypeProfile]) {
        self.seed = seed
        self.types = types
    }

    /// Every device of the fleet, in generator order (types in order, then `n` ascending).
    public var devices: [SimulatedDevice] {
        var result: [SimulatedDevice] = []
        for (typeIndex, type) in types.enumerated() {
            for index in 0..<type.count {
                let number = type.firstNumber + index
                result.append(
                    SimulatedDevice(
                        id: type.idPattern.deviceID(number: number, typeName: type.name),
                        typeIndex: typeIndex,
                        indexInType: index,
                        number: number
                    )
                )
            }
        }
        return result
    }

    /// Total readings per second of the whole fleet (sum of `count × rate`).
    public var totalRate: Double {
        types.reduce(0) { $0 + Double($1.count) * $1.rate }
    }

    /// Total number of devices.
    public var deviceCount: Int { types.reduce(0) { $0 + $1.count } }
}

/// One device of a fleet, as the generator numbers it.
public struct SimulatedDevice: Sendable, Hashable {
    /// The device id (also the MQTT topic segment).
    public var id: String
    /// Index of the device's type in ``FleetProfile/types``.
    public var typeIndex: Int
    /// 0-based index of the device within its type.
    public var indexInType: Int
    /// The device number `n` used in the id pattern (starts at the type's `first`, default 1).
    public var number: Int
}

/// A kind of device: its id pattern, count, rate and metrics.
public struct DeviceTypeProfile: Sendable, Hashable {
    /// Type name, `[A-Za-z0-9_-]{1,64}`.
    public var name: String
    /// How many devices of this type. Default `1`.
    public var count: Int
    /// Device id pattern. Default `{type}-{n:03}`.
    public var idPattern: IDPattern
    /// The first device number `n`. Default `1`.
    public var firstNumber: Int
    /// Readings per second per device, `0 < rate <= 1000`. Default `1`.
    public var rate: Double
    /// MQTT QoS of telemetry publications (0, 1 or 2). Default `1`.
    public var qos: Int
    /// The metrics of every reading, 1 to 64.
    public var metrics: [MetricProfile]
    /// Offline periods (no readings; `offline` status). Default none.
    public var offline: EventProfile?
    /// Late and out-of-order delivery. Default none.
    public var late: LatenessProfile?

    /// Creates a device type.
    public init(
        name: String,
        count: Int = 1,
        idPattern: IDPattern? = nil,
        firstNumber: Int = 1,
        rate: Double = 1,
        qos: Int = 1,
        metrics: [MetricProfile],
        offline: EventProfile? = nil,
        late: LatenessProfile? = nil
    ) {
        self.name = name
        self.count = count
        self.idPattern = idPattern ?? .defaultPattern
        self.firstNumber = firstNumber
        self.rate = rate
        self.qos = qos
        self.metrics = metrics
        self.offline = offline
        self.late = late
    }

    /// Milliseconds between two readings of one device (`1000 / rate`).
    public var intervalMilliseconds: Double { 1000 / rate }
}

/// How one metric's values are generated.
///
/// The value of a reading at time `t` is
/// `clamp(round(baseline + daily(t) + drift × hours(t) + noise, decimals), min, max)`,
/// replaced by the spike's `peak` during a spike and by the frozen value while stuck.
public struct MetricProfile: Sendable, Hashable {
    /// Metric name, `[A-Za-z0-9_.-]{1,64}`.
    public var name: String
    /// The centre value. Default `0`.
    public var baseline: Double
    /// Sinusoidal cycle. Default none.
    public var daily: DailyCycle?
    /// Gaussian noise. Default none.
    public var noise: NoiseProfile?
    /// Linear drift per hour since the start. Default `0`.
    public var driftPerHour: Double
    /// Decimal places values are rounded to (0...9). Default `2`.
    public var decimals: Int
    /// Lower clamp. Default none.
    public var minimum: Double?
    /// Upper clamp. Default none.
    public var maximum: Double?
    /// Spikes (a plateau of `magnitude` above the clean signal). Default none.
    public var spikes: SpikeProfile?
    /// Stuck values (the value freezes). Default none.
    public var stuck: EventProfile?

    /// Creates a metric.
    public init(
        name: String,
        baseline: Double = 0,
        daily: DailyCycle? = nil,
        noise: NoiseProfile? = nil,
        driftPerHour: Double = 0,
        decimals: Int = 2,
        minimum: Double? = nil,
        maximum: Double? = nil,
        spikes: SpikeProfile? = nil,
        stuck: EventProfile? = nil
    ) {
        self.name = name
        self.baseline = baseline
        self.daily = daily
        self.noise = noise
        self.driftPerHour = driftPerHour
        self.decimals = decimals
        self.minimum = minimum
        self.maximum = maximum
        self.spikes = spikes
        self.stuck = stuck
    }
}

/// A sinusoid: `amplitude × sin(2π × (t − start) / period + phase)`.
public struct DailyCycle: Sendable, Hashable {
    /// Peak deviation from the baseline. Required.
    public var amplitude: Double
    /// Period in milliseconds. Default 24 h.
    public var periodMilliseconds: Int64
    /// Phase in degrees, or `nil` for a random phase per device (seeded). Default random.
    public var phaseDegrees: Double?

    /// Creates a cycle.
    public init(amplitude: Double, periodMilliseconds: Int64 = 86_400_000, phaseDegrees: Double? = nil) {
        self.amplitude = amplitude
        self.periodMilliseconds = periodMilliseconds
        self.phaseDegrees = phaseDegrees
    }
}

/// Gaussian noise, clamped to `±clamp × stddev` so value ranges stay exact.
public struct NoiseProfile: Sendable, Hashable {
    /// Standard deviation. Required.
    public var stddev: Double
    /// Clamp in standard deviations. Default `4`.
    public var clamp: Double

    /// Creates a noise profile.
    public init(stddev: Double, clamp: Double = 4) {
        self.stddev = stddev
        self.clamp = clamp
    }

    /// The largest absolute noise value.
    public var bound: Double { stddev * clamp }
}

/// When an event (offline period, stuck value, spike) starts and how long it lasts.
public struct EventProfile: Sendable, Hashable {
    /// How events start.
    public enum Trigger: Sendable, Hashable {
        /// With this probability at each reading of a device that has no event running.
        case probability(Double)
        /// At `start + at + k × every` for k = 0, 1, 2, ... (milliseconds).
        case schedule(everyMilliseconds: Int64, atMilliseconds: Int64)
    }

    /// How events start.
    public var trigger: Trigger
    /// How long each event lasts in milliseconds. Default 10 s (spikes, stuck), 60 s (offline).
    public var durationMilliseconds: Int64
    /// Device numbers `n` the event applies to; `nil` means every device of the type.
    public var devices: Set<Int>?

    /// Creates an event profile.
    public init(trigger: Trigger, durationMilliseconds: Int64, devices: Set<Int>? = nil) {
        self.trigger = trigger
        self.durationMilliseconds = durationMilliseconds
        self.devices = devices
    }

    /// Whether the event applies to device number `number`.
    public func applies(to number: Int) -> Bool { devices?.contains(number) ?? true }
}

/// Spikes: an ``EventProfile`` plus the height of the plateau.
public struct SpikeProfile: Sendable, Hashable {
    /// When and for how long.
    public var event: EventProfile
    /// Added to the clean signal at the spike's start (negative for dips). Required.
    public var magnitude: Double

    /// Creates a spike profile.
    public init(event: EventProfile, magnitude: Double) {
        self.event = event
        self.magnitude = magnitude
    }
}

/// Late delivery: a fraction of readings is published after a delay (and so after newer ones).
public struct LatenessProfile: Sendable, Hashable {
    /// Probability that a reading is late, 0...1. Required.
    public var fraction: Double
    /// Smallest delay in milliseconds. Default: one reading interval + 1 ms (so late readings
    /// always arrive after the next reading).
    public var minDelayMilliseconds: Int64?
    /// Largest delay in milliseconds. Required.
    public var maxDelayMilliseconds: Int64

    /// Creates a lateness profile.
    public init(fraction: Double, minDelayMilliseconds: Int64? = nil, maxDelayMilliseconds: Int64) {
        self.fraction = fraction
        self.minDelayMilliseconds = minDelayMilliseconds
        self.maxDelayMilliseconds = maxDelayMilliseconds
    }
}
