import Foundation
import Testing

@testable import Simulator

@Suite struct FleetProfileParserTests {
    @Test func demoFleetParses() throws {
        let fleet = try TestSupport.loadFleet("demo.yaml")
        #expect(fleet.seed == 20_261_129)
        #expect(fleet.types.map(\.name) == ["greenhouse", "freezer", "pump"])
        #expect(fleet.deviceCount == 13)
        #expect(
            fleet.devices.map(\.id).prefix(7) == [
                "greenhouse-001", "greenhouse-002", "greenhouse-003", "greenhouse-004", "greenhouse-005",
                "greenhouse-006", "freezer-01",
            ]
        )
        #expect(fleet.devices.last?.id == "pump-3")
        let greenhouse = fleet.types[0]
        #expect(
            greenhouse.offline
                == EventProfile(
                    trigger: .schedule(everyMilliseconds: 300_000, atMilliseconds: 120_000),
                    durationMilliseconds: 45_000,
                    devices: [6]
                )
        )
        #expect(greenhouse.late == LatenessProfile(fraction: 0.02, maxDelayMilliseconds: 4000))
        let temperature = greenhouse.metrics[0]
        #expect(temperature.daily == DailyCycle(amplitude: 4, periodMilliseconds: 600_000, phaseDegrees: nil))
        #expect(temperature.noise == NoiseProfile(stddev: 0.3, clamp: 4))
        #expect(temperature.spikes?.magnitude == 12)
        #expect(temperature.spikes?.event.devices == [2, 5])
        // The demo's overheating rule (above 30) only fires during spikes.
        #expect(temperature.normalRange(durationMilliseconds: 3_600_000).upperBound < 30)
        #expect(fleet.types[1].metrics[1].noise == NoiseProfile(stddev: 0.05, clamp: 3))
        #expect(fleet.types[2].metrics[2].driftPerHour == 0.5)
    }

    @Test func builtInDemoIsTheDemoFile() throws {
        let file = try String(contentsOfFile: TestSupport.devicesFile("demo.yaml"), encoding: .utf8)
        #expect(FleetProfile.demoYAML == file, "paste devices/demo.yaml into Sources/Simulator/Profile/DemoFleet.swift")
        #expect(try FleetProfile.demo() == TestSupport.loadFleet("demo.yaml"))
    }

    @Test func defaultsApply() throws {
        let fleet = try FleetProfileParser.parse(yaml: "types:\n  - name: thing\n    metrics:\n      - name: x\n")
        #expect(fleet.seed == 1)
        let type = fleet.types[0]
        #expect(type.count == 1 && type.rate == 1 && type.qos == 1 && type.firstNumber == 1)
        #expect(fleet.devices.map(\.id) == ["thing-001"])
        #expect(type.metrics[0] == MetricProfile(name: "x"))
        #expect(type.metrics[0].decimals == 2 && type.metrics[0].baseline == 0)
    }

    @Test(
        arguments: [
            ("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("1h", 3_600_000), ("1.5h", 5_400_000), ("2", 2000),
            ("1d", 86_400_000), ("0.5s", 500),
        ] as [(String, Int64)]
    )
    func durations(text: String, milliseconds: Int64) {
        #expect(DurationText.milliseconds(text) == milliseconds)
    }

    @Test(arguments: ["", "abc", "-1s", "5 parsecs", "1e300h"])
    func badDurations(text: String) {
        #expect(DurationText.milliseconds(text) == nil)
    }

    struct BadCase: Sendable, CustomTestStringConvertible {
        var name: String
        var yaml: String
        var code: ProfileError.Code
        var deviceType: String?
        var metric: String?
        var field: String?
        var says: String
        var testDescription: String { name }
    }

    static let minimalType = "types:\n  - name: t\n    metrics:\n      - name: m\n"

    static let badCases: [BadCase] = [
        BadCase(name: "syntax", yaml: "types: [\n", code: .yamlSyntax, says: "not valid YAML"),
        BadCase(name: "empty file", yaml: "", code: .missingField, field: "types", says: "empty"),
        BadCase(name: "top level is a list", yaml: "- a\n- b\n", code: .wrongType, says: "must be a mapping"),
        BadCase(
            name: "unknown top field",
            yaml: "seeds: 3\n" + minimalType,
            code: .unknownField,
            field: "seeds",
            says: "did you mean 'seed'"
        ),
        BadCase(
            name: "seed not a number",
            yaml: "seed: lucky\n" + minimalType,
            code: .wrongType,
            field: "seed",
            says: "whole number"
        ),
        BadCase(name: "no types", yaml: "types: []\n", code: .missingField, field: "types", says: "at least one"),
        BadCase(
            name: "type without name",
            yaml: "types:\n  - count: 2\n",
            code: .missingField,
            deviceType: "#1",
            field: "name",
            says: "required"
        ),
        BadCase(
            name: "bad type name",
            yaml: "types:\n  - name: green house\n    metrics: [{name: m}]\n",
            code: .invalidName,
            deviceType: "#1",
            field: "name",
            says: "[A-Za-z0-9_-]{1,64}"
        ),
        BadCase(
            name: "typo in type field",
            yaml: "types:\n  - name: t\n    cout: 3\n    metrics: [{name: m}]\n",
            code: .unknownField,
            deviceType: "t",
            field: "cout",
            says: "did you mean 'count'"
        ),
        BadCase(
            name: "count zero",
            yaml: "types:\n  - name: t\n    count: 0\n    metrics: [{name: m}]\n",
            code: .outOfRange,
            deviceType: "t",
            field: "count",
            says: "from 1 to 100000"
        ),
        BadCase(
            name: "count text",
            yaml: "types:\n  - name: t\n    count: many\n    metrics: [{name: m}]\n",
            code: .wrongType,
            deviceType: "t",
            field: "count",
            says: "whole number"
        ),
        BadCase(
            name: "rate zero",
            yaml: "types:\n  - name: t\n    rate: 0\n    metrics: [{name: m}]\n",
            code: .outOfRange,
            deviceType: "t",
            field: "rate",
            says: "<= 1000"
        ),
        BadCase(
            name: "rate too high",
            yaml: "types:\n  - name: t\n    rate: 5000\n    metrics: [{name: m}]\n",
            code: .outOfRange,
            deviceType: "t",
            field: "rate",
            says: "<= 1000"
        ),
        BadCase(
            name: "qos 3",
            yaml: "types:\n  - name: t\n    qos: 3\n    metrics: [{name: m}]\n",
            code: .outOfRange,
            deviceType: "t",
            field: "qos",
            says: "from 0 to 2"
        ),
        BadCase(
            name: "no metrics",
            yaml: "types:\n  - name: t\n",
            code: .missingField,
            deviceType: "t",
            field: "metrics",
            says: "1 to 64"
        ),
        BadCase(
            name: "pattern without n",
            yaml: "types:\n  - name: t\n    id: sensor\n    metrics: [{name: m}]\n",
            code: .invalidPattern,
            deviceType: "t",
            field: "id",
            says: "no {n}"
        ),
        BadCase(
            name: "pattern placeholder",
            yaml: "types:\n  - name: t\n    id: \"s-{x}\"\n    metrics: [{name: m}]\n",
            code: .invalidPattern,
            deviceType: "t",
            field: "id",
            says: "unknown placeholder"
        ),
        BadCase(
            name: "pattern makes bad id",
            yaml: "types:\n  - name: t\n    id: \"s/{n}\"\n    metrics: [{name: m}]\n",
            code: .invalidName,
            deviceType: "t",
            field: "id",
            says: "'s/1'"
        ),
        BadCase(
            name: "duplicate ids",
            yaml:
                "types:\n  - name: a\n    id: \"x-{n}\"\n    metrics: [{name: m}]\n  - name: b\n    id: \"x-{n}\"\n    metrics: [{name: m}]\n",
            code: .duplicate,
            deviceType: "b",
            field: "id",
            says: "also made by type 'a'"
        ),
        BadCase(
            name: "duplicate type",
            yaml:
                "types:\n  - name: a\n    id: \"x-{n}\"\n    metrics: [{name: m}]\n  - name: a\n    id: \"y-{n}\"\n    metrics: [{name: m}]\n",
            code: .duplicate,
            deviceType: "a",
            field: "name",
            says: "unique"
        ),
        BadCase(
            name: "bad metric name",
            yaml: "types:\n  - name: t\n    metrics: [{name: \"a b\"}]\n",
            code: .invalidName,
            deviceType: "t",
            metric: "#1",
            field: "name",
            says: "[A-Za-z0-9_.-]{1,64}"
        ),
        BadCase(
            name: "duplicate metric",
            yaml: "types:\n  - name: t\n    metrics: [{name: m}, {name: m}]\n",
            code: .duplicate,
            deviceType: "t",
            metric: "m",
            field: "name",
            says: "twice"
        ),
        BadCase(
            name: "baseline text",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, baseline: warm}]\n",
            code: .wrongType,
            deviceType: "t",
            metric: "m",
            field: "baseline",
            says: "finite number"
        ),
        BadCase(
            name: "baseline infinite",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, baseline: .inf}]\n",
            code: .wrongType,
            deviceType: "t",
            metric: "m",
            field: "baseline",
            says: "finite number"
        ),
        BadCase(
            name: "min above max",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, min: 5, max: 1}]\n",
            code: .conflictingFields,
            deviceType: "t",
            metric: "m",
            field: "min",
            says: "must not exceed max"
        ),
        BadCase(
            name: "decimals",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, decimals: 12}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "decimals",
            says: "from 0 to 9"
        ),
        BadCase(
            name: "noise negative",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, noise: -1}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "noise",
            says: "standard deviation"
        ),
        BadCase(
            name: "noise without stddev",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, noise: {clamp: 2}}]\n",
            code: .missingField,
            deviceType: "t",
            metric: "m",
            field: "noise.stddev",
            says: "required"
        ),
        BadCase(
            name: "daily without amplitude",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, daily: {period: 1h}}]\n",
            code: .missingField,
            deviceType: "t",
            metric: "m",
            field: "daily.amplitude",
            says: "required"
        ),
        BadCase(
            name: "daily bad period",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, daily: {amplitude: 1, period: soon}}]\n",
            code: .wrongType,
            deviceType: "t",
            metric: "m",
            field: "daily.period",
            says: "duration such as"
        ),
        BadCase(
            name: "daily short period",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, daily: {amplitude: 1, period: 10ms}}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "daily.period",
            says: "at least 1s"
        ),
        BadCase(
            name: "daily bad phase",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, daily: {amplitude: 1, phase: 720}}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "daily.phase",
            says: "'random' or degrees"
        ),
        BadCase(
            name: "spike without magnitude",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, spikes: {probability: 0.1}}]\n",
            code: .missingField,
            deviceType: "t",
            metric: "m",
            field: "spikes.magnitude",
            says: "required"
        ),
        BadCase(
            name: "spike without trigger",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, spikes: {magnitude: 3}}]\n",
            code: .missingField,
            deviceType: "t",
            metric: "m",
            field: "spikes.probability",
            says: "'every: 10m'"
        ),
        BadCase(
            name: "spike both triggers",
            yaml:
                "types:\n  - name: t\n    metrics: [{name: m, spikes: {magnitude: 3, probability: 0.1, every: 1m}}]\n",
            code: .conflictingFields,
            deviceType: "t",
            metric: "m",
            field: "spikes.every",
            says: "not both"
        ),
        BadCase(
            name: "spike probability > 1",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, spikes: {magnitude: 3, probability: 2}}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "spikes.probability",
            says: "from 0 to 1"
        ),
        BadCase(
            name: "spike longer than period",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, spikes: {magnitude: 3, every: 10s, duration: 20s}}]\n",
            code: .conflictingFields,
            deviceType: "t",
            metric: "m",
            field: "spikes.duration",
            says: "shorter than 'every'"
        ),
        BadCase(
            name: "at with probability",
            yaml: "types:\n  - name: t\n    metrics: [{name: m, stuck: {probability: 0.1, at: 1m}}]\n",
            code: .conflictingFields,
            deviceType: "t",
            metric: "m",
            field: "stuck.at",
            says: "only goes with 'every'"
        ),
        BadCase(
            name: "spike unknown device",
            yaml:
                "types:\n  - name: t\n    count: 3\n    metrics: [{name: m, spikes: {magnitude: 3, every: 1m, devices: [4]}}]\n",
            code: .outOfRange,
            deviceType: "t",
            metric: "m",
            field: "spikes.devices",
            says: "1 to 3"
        ),
        BadCase(
            name: "devices not numbers",
            yaml: "types:\n  - name: t\n    offline: {every: 5m, devices: [one]}\n    metrics: [{name: m}]\n",
            code: .wrongType,
            deviceType: "t",
            field: "offline.devices",
            says: "device numbers"
        ),
        BadCase(
            name: "offline typo",
            yaml: "types:\n  - name: t\n    offline: {evry: 1m}\n    metrics: [{name: m}]\n",
            code: .unknownField,
            deviceType: "t",
            field: "offline.evry",
            says: "did you mean 'every'"
        ),
        BadCase(
            name: "late without maxDelay",
            yaml: "types:\n  - name: t\n    late: {fraction: 0.1}\n    metrics: [{name: m}]\n",
            code: .missingField,
            deviceType: "t",
            field: "late.maxDelay",
            says: "required"
        ),
        BadCase(
            name: "late min above max",
            yaml:
                "types:\n  - name: t\n    late: {fraction: 0.1, minDelay: 5s, maxDelay: 1s}\n    metrics: [{name: m}]\n",
            code: .conflictingFields,
            deviceType: "t",
            field: "late.minDelay",
            says: "must not exceed maxDelay"
        ),
        BadCase(
            name: "metrics not a list",
            yaml: "types:\n  - name: t\n    metrics: {name: m}\n",
            code: .wrongType,
            deviceType: "t",
            field: "metrics",
            says: "must be a list"
        ),
        BadCase(
            name: "type not a mapping",
            yaml: "types:\n  - greenhouse\n",
            code: .wrongType,
            deviceType: "#1",
            says: "must be a mapping"
        ),
    ]

    @Test(arguments: badCases)
    func badProfilesAreRejectedWithAUsefulMessage(_ bad: BadCase) throws {
        let error = try #require(throws: ProfileError.self) {
            try FleetProfileParser.parse(yaml: bad.yaml, file: "devices/bad.yaml")
        }
        #expect(error.code == bad.code)
        #expect(error.file == "devices/bad.yaml")
        #expect(error.deviceType == bad.deviceType)
        #expect(error.metric == bad.metric)
        #expect(error.field == bad.field)
        #expect(error.description.contains(bad.says), "\(error)")
        #expect(error.description.hasPrefix("devices/bad.yaml"))
    }

    @Test func anchorsAliasesAndMergeKeysReuseDefinitions() throws {
        let yaml = """
            types:
              - name: a
                metrics:
                  - &temperature
                    name: temperature
                    baseline: 20
                    noise: &noise { stddev: 0.5 }
              - name: b
                metrics:
                  - *temperature
                  - name: pressure
                    noise: *noise
                  - <<: *temperature
                    name: outside
                    baseline: 5
            """
        let fleet = try FleetProfileParser.parse(yaml: yaml)
        let metrics = fleet.types[1].metrics
        #expect(metrics[0] == fleet.types[0].metrics[0])
        #expect(metrics[1].noise == NoiseProfile(stddev: 0.5))
        #expect(metrics[2].name == "outside" && metrics[2].baseline == 5 && metrics[2].noise == NoiseProfile(stddev: 0.5))
        let bad = "types:\n  - name: t\n    metrics:\n      - <<: 3\n        name: m\n"
        let error = try #require(throws: ProfileError.self) { try FleetProfileParser.parse(yaml: bad) }
        #expect(error.code == .wrongType && error.field == "<<")
    }

    @Test func errorsNameTheLine() throws {
        let yaml =
            "seed: 3\ntypes:\n  - name: greenhouse\n    metrics:\n      - name: temperature\n        noise: lots\n"
        let error = try #require(throws: ProfileError.self) { try FleetProfileParser.parse(yaml: yaml, file: "f.yaml") }
        #expect(error.line == 6)
        #expect(
            error.description
                == "f.yaml:6: type 'greenhouse', metric 'temperature', field 'noise': must be a finite number "
                + "(a standard deviation >= 0, or 'stddev:' and 'clamp:'), got 'lots' [wrong-type]"
        )
    }

    @Test func missingFileIsAnError() throws {
        let error = try #require(throws: ProfileError.self) {
            try FleetProfileParser.load(path: "/nonexistent/fleet.yaml")
        }
        #expect(error.code == .unreadable)
        #expect(error.file == "/nonexistent/fleet.yaml")
    }

    @Test func profilesBuiltInCodeAreValidatedToo() {
        let fleet = FleetProfile(types: [DeviceTypeProfile(name: "t", rate: 0, metrics: [MetricProfile(name: "m")])])
        #expect(throws: ProfileError.self) { try fleet.validate() }
        let good = FleetProfile(types: [DeviceTypeProfile(name: "t", metrics: [MetricProfile(name: "m")])])
        #expect(throws: Never.self) { try good.validate() }
    }

    @Test(
        arguments: [
            ("greenhouse-{n:03}", 7, "greenhouse-007"), ("{type}_{n}", 12, "pump_12"), ("x{n:02}y", 123, "x123y"),
        ] as [(String, Int, String)]
    )
    func idPatterns(pattern: String, number: Int, id: String) throws {
        let parsed = try IDPattern.parse(pattern).get()
        #expect(parsed.deviceID(number: number, typeName: "pump") == id)
    }
}
