import ArgumentParser
import Simulator

/// The fleet options shared by `fluxgate simulate` and `fluxgate demo`.
struct SimulationOptions: ParsableArguments {
    @Option(help: "Fleet profile YAML (docs/simulator.md). [env: FLUXGATE_FLEET] [default: the built-in demo fleet, devices/demo.yaml]")
    var fleet: String?

    @Option(help: "Target readings per second for the whole fleet. [env: FLUXGATE_RATE] [default: the profile's own rates]")
    var rate: Double?

    @Option(help: "Random seed; the same seed gives the same values, events and order. [env: FLUXGATE_SEED] [default: the profile's seed]")
    var seed: UInt64?

    static let fleetSetting = Setting("fleet", default: nil, help: "Fleet profile YAML file.")
    static let rateSetting = Setting("rate", default: nil, help: "Target readings per second for the whole fleet.")
    static let seedSetting = Setting("seed", default: nil, help: "Random seed.")
    static let settings = [fleetSetting, rateSetting, seedSetting]

    var flags: [String: String?] {
        ["fleet": fleet, "rate": rate.map { String($0) }, "seed": seed.map(String.init)]
    }

    /// The profile from `--fleet`, or the built-in demo fleet.
    func profile(_ resolver: ConfigurationResolver) throws -> FleetProfile {
        do throws(ProfileError) {
            if let (path, _) = resolver.raw(Self.fleetSetting) {
                return try FleetProfileParser.load(path: path)
            }
            return try FleetProfile.demo()
        } catch {
            throw ConfigurationError(.invalidValue, "fleet profile: \(error.description)")
        }
    }

    /// The target rate, if any.
    func targetRate(_ resolver: ConfigurationResolver) throws -> Double? {
        try resolver.value(Self.rateSetting, expected: "a number of readings per second > 0") { text in
            Double(text).flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
        }
    }

    /// The seed override, if any.
    func seed(_ resolver: ConfigurationResolver) throws -> UInt64? {
        try resolver.value(Self.seedSetting, expected: "a whole number 0-18446744073709551615") { UInt64($0) }
    }
}
