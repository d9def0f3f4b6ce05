import Testing

@testable import Telemetry

@Suite struct ConfigurationTests {
    @Test func defaultConfigurationParses() throws {
        let configuration = try TelemetryConfiguration.parse(yaml: TelemetryConfiguration.defaultYAML)
        #expect(configuration.windowing.windows.map(\.name) == ["10s", "1m", "5m/1m"])
        #expect(configuration.windowing.allowedLateness == .seconds(2))
        #expect(
            configuration.rules.map(\.name) == [
                "overheating", "freezer-warm", "temperature-jump", "pump-vibration", "bearing-hot", "humid", "silent",
            ])
        #expect(TelemetryConfiguration.standard == configuration)
        let overheating = configuration.rules[0]
        #expect(overheating.condition == .above(30) && overheating.clear == 29.5 && overheating.holdFor == .seconds(10))
        #expect(overheating.severity == .critical && overheating.metric == "temperature" && overheating.devices == "*")
        #expect(configuration.rules[2].condition == .rateAbove(perSecond: 3))
        #expect(
            configuration.rules[1].matches(DeviceID("freezer-01")!)
                && !configuration.rules[1].matches(DeviceID("pump-1")!))
        #expect(configuration.rules.last?.condition == .offline(.seconds(30)))
    }

    @Test func parsesTheDesignExample() throws {
        let yaml = """
            rules:
              - name: overheating
                devices: "*"            # glob on device id
                metric: temperature
                above: 30               # or below:
                for: 10s                # optional: condition must hold this long
                clear: 28               # optional: hysteresis, clears only past this
                severity: critical      # info | warning | critical
              - name: silent
                devices: "greenhouse-*"
                offline: 30s            # no reading for this long (wall clock)
                severity: warning
              - name: cooling-fast
                metric: temperature
                rate_below: -30/m
            windows: [10s, 1m]
            """
        let configuration = try TelemetryConfiguration.parse(yaml: yaml)
        #expect(configuration.rules.map(\.name) == ["overheating", "silent", "cooling-fast"])
        #expect(configuration.rules[1].devices == "greenhouse-*")
        #expect(configuration.rules[2].condition == .rateBelow(perSecond: -0.5))
        #expect(configuration.rules[2].severity == .warning)
        #expect(configuration.windowing.windows == [.tumbling(.seconds(10)), .tumbling(.minutes(1))])
        #expect(try TelemetryConfiguration.parse(yaml: "").rules.isEmpty)
    }

    /// (yaml, rule, field, words the message must contain, line)
    static let errors: [(String, String?, String, String, Int?)] = [
        ("rules:\n  - name: a\n    metric: t\n    above: hot\n", "a", "above", "finite number", 4),
        ("rules:\n  - name: a\n    metric: t\n    above: .inf\n", "a", "above", "finite number", 4),
        ("rules:\n  - name: a\n    metric: t\n    above: \"30\"\n", "a", "above", "finite number", 4),
        ("rules:\n  - name: a\n    metric: t\n", "a", "above", "exactly one condition", nil),
        (
            "rules:\n  - name: a\n    metric: t\n    above: 1\n    below: 0\n", "a", "above", "split it into two rules",
            nil
        ),
        ("rules:\n  - name: a\n    above: 1\n", "a", "metric", "metric: temperature", nil),
        ("rules:\n  - name: a\n    metric: t\n    above: 1\n    for: 10\n", "a", "for", "10s", 5),
        ("rules:\n  - name: a\n    metric: t\n    above: 1\n    for: ten seconds\n", "a", "for", "duration", 5),
        ("rules:\n  - name: a\n    metric: t\n    above: 30\n    clear: 31\n", "a", "clear", "at or below above", 5),
        ("rules:\n  - name: a\n    metric: t\n    below: 5\n    clear: 4\n", "a", "clear", "at or above below", 5),
        (
            "rules:\n  - name: a\n    metric: t\n    above: 1\n    severity: fatal\n", "a", "severity",
            "info, warning or critical", 5
        ),
        ("rules:\n  - name: a\n    metric: t\n    above: 1\n    treshold: 3\n", "a", "treshold", "unknown field", 5),
        ("rules:\n  - name: a\n    metric: t\n    rate_above: 5\n", "a", "rate_above", "5/s", 4),
        ("rules:\n  - name: a\n    metric: t\n    rate_above: 5/week\n", "a", "rate_above", "30/m", 4),
        ("rules:\n  - name: a\n    offline: 30s\n    metric: t\n", "a", "metric", "remove 'metric'", nil),
        ("rules:\n  - name: a\n    offline: 0s\n", "a", "offline", "positive", nil),
        ("rules:\n  - name: a\n    devices: \"green house\"\n    offline: 1s\n", "a", "devices", "glob", 3),
        ("rules:\n  - metric: t\n    above: 1\n", "rules[0]", "name", "needs a name", nil),
        ("rules:\n  - name: a b\n    metric: t\n    above: 1\n", "rules[0]", "name", "rule name", 2),
        ("rules:\n  - name: a\n    offline: 1s\n  - name: a\n    offline: 2s\n", "a", "name", "unique", nil),
        ("rules:\n  - name: a\n    metric: bad name\n    above: 1\n", "a", "metric", "metric name", nil),
        ("rules: 5\n", nil, "rules", "list of rules", 1),
        ("rules:\n  - just a string\n", "rules[0]", "(rule)", "mapping", nil),
        ("windows: 10s\n", nil, "windows", "[10s, 1m]", 1),
        ("windows: [10s, 1m/7s]\n", nil, "windows", "hop must divide", 1),
        ("windows: [10s, 10s]\n", nil, "windows", "twice", 1),
        ("windows: []\n", nil, "windows", "at least one", 1),
        ("lateness: soon\n", nil, "lateness", "duration", 1),
        ("rule:\n  - name: a\n", nil, "rule", "unknown key", 1),
        ("rules: [\n", nil, "yaml", "not valid YAML", nil),
        ("- a\n- b\n", nil, "(top level)", "mapping", 1),
    ]

    @Test(arguments: errors)
    func reportsRuleFieldAndFix(yaml: String, rule: String?, field: String, words: String, line: Int?) {
        do {
            _ = try TelemetryConfiguration.parse(yaml: yaml)
            Issue.record("accepted \(yaml)")
        } catch {
            #expect(error.rule == rule, "\(error)")
            #expect(error.field == field, "\(error)")
            #expect(error.message.contains(words), "\(error)")
            if let line { #expect(error.line == line, "\(error)") }
            #expect(error.code == "invalid-config")
        }
    }

    @Test(arguments: [
        ("*", "anything", true), ("greenhouse-*", "greenhouse-7", true), ("greenhouse-*", "greenhouse-", true),
        ("greenhouse-*", "barn-1", false), ("*-7", "greenhouse-7", true), ("d?", "d1", true), ("d?", "d12", false),
        ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false), ("**", "", true), ("exact", "exact", true),
        ("exact", "exac", false),
    ])
    func globs(pattern: String, text: String, matches: Bool) {
        #expect(Glob.matches(pattern: pattern, text) == matches)
    }
}
