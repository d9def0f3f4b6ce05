import Yams

/// The windowing stage's configuration file (`--rules FILE`): windows and alert rules.
///
/// ```yaml
/// windows: [10s, 1m, 5m/1m]   # tumbling 10s and 1m, hopping 5m every 1m
/// lateness: 2s                # allowed lateness (default 2s)
/// idle_grace: 1s              # extra wait before closing windows of silent devices (default 1s)
/// rules:
///   - name: overheating
///     devices: "*"            # glob on device id (default "*")
///     metric: temperature
///     above: 30               # or below: / rate_above: 5/s / rate_below: -2/m
///     for: 10s                # optional: condition must hold this long (event time)
///     clear: 28               # optional: hysteresis, clears only at or past this level
///     severity: critical      # info | warning | critical (default warning)
///   - name: silent
///     devices: "greenhouse-*"
///     offline: 30s            # no reading for this long (wall clock)
///     severity: warning
/// ```
public struct TelemetryConfiguration: Sendable, Hashable {
    /// Windows, lateness and idle grace.
    public var windowing: WindowingConfiguration
    /// Alert rules in file order.
    public var rules: [AlertRule]

    /// Creates a configuration.
    public init(windowing: WindowingConfiguration = .init(), rules: [AlertRule] = []) {
        self.windowing = windowing
        self.rules = rules
    }

    /// The demo defaults, parsed from ``defaultYAML`` (checked by the tests).
    public static var standard: TelemetryConfiguration {
        (try? parse(yaml: defaultYAML)) ?? TelemetryConfiguration()
    }

    static let topLevelKeys = ["windows", "lateness", "idle_grace", "rules"]
    static let ruleKeys = [
        "name", "devices", "metric", "above", "below", "rate_above", "rate_below", "offline", "for", "clear",
        "severity",
    ]

    /// Parses and validates a configuration file. Errors name the rule, the field and the line,
    /// and say what to write instead.
    public static func parse(yaml: String) throws(ConfigurationError) -> TelemetryConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigurationError(field: "yaml", "the file is not valid YAML: \(error)")
        }
        var configuration = TelemetryConfiguration()
        guard let root else { return configuration }
        guard let mapping = root.mapping else {
            throw ConfigurationError(
                field: "(top level)", "expected a mapping with keys \(topLevelKeys.joined(separator: ", "))",
                line: root.line)
        }
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "windows":
                guard let items = value.sequence else {
                    throw ConfigurationError(
                        field: "windows", "expected a list such as [10s, 1m] or [1m/10s]", line: value.line)
                }
                var windows: [WindowSpec] = []
                for item in items {
                    guard let text = item.scalar?.string else {
                        throw ConfigurationError(
                            field: "windows", "each window is a duration such as 10s or size/hop such as 1m/10s",
                            line: item.line)
                    }
                    do throws(ConfigurationError) {
                        let spec = try WindowSpec(parsing: text)
                        if windows.contains(spec) {
                            throw ConfigurationError(field: "windows", "window \(text) is listed twice")
                        }
                        windows.append(spec)
                    } catch {
                        var located = error
                        located.line = item.line
                        throw located
                    }
                }
                guard !windows.isEmpty else {
                    throw ConfigurationError(
                        field: "windows", "list at least one window, e.g. [10s, 1m]", line: value.line)
                }
                configuration.windowing.windows = windows
            case "lateness":
                configuration.windowing.allowedLateness = try duration(value, rule: nil, field: "lateness")
            case "idle_grace":
                configuration.windowing.idleGrace = try duration(value, rule: nil, field: "idle_grace")
            case "rules":
                if value.null != nil { continue }
                guard let items = value.sequence else {
                    throw ConfigurationError(
                        field: "rules", "expected a list of rules, each starting with '- name: ...'", line: value.line)
                }
                for (index, item) in items.enumerated() {
                    let rule = try parseRule(item, index: index)
                    if configuration.rules.contains(where: { $0.name == rule.name }) {
                        throw ConfigurationError(
                            rule: rule.name, field: "name", "two rules are named '\(rule.name)'; names must be unique",
                            line: item.line)
                    }
                    configuration.rules.append(rule)
                }
            default:
                throw ConfigurationError(
                    field: key, "unknown key; the keys are \(topLevelKeys.joined(separator: ", "))", line: keyNode.line)
            }
        }
        return configuration
    }

    static func parseRule(_ node: Node, index: Int) throws(ConfigurationError) -> AlertRule {
        let fallbackName = "rules[\(index)]"
        guard let mapping = node.mapping else {
            throw ConfigurationError(
                rule: fallbackName, field: "(rule)", "each rule is a mapping with at least name and a condition",
                line: node.line)
        }
        var fields: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            guard ruleKeys.contains(key) else {
                let name = mapping["name"]?.string ?? fallbackName
                throw ConfigurationError(
                    rule: name, field: key, "unknown field; the fields are \(ruleKeys.joined(separator: ", "))",
                    line: keyNode.line)
            }
            fields[key] = value
        }
        guard let nameNode = fields["name"] else {
            throw ConfigurationError(
                rule: fallbackName, field: "name", "every rule needs a name, e.g. name: overheating", line: node.line)
        }
        guard let name = nameNode.scalar?.string, Metric.isValidName(name) else {
            throw ConfigurationError(
                rule: fallbackName, field: "name", "a rule name is 1 to 64 characters from A-Z a-z 0-9 _ . -",
                line: nameNode.line)
        }
        func fail(_ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(rule: name, field: field, message, line: fields[field]?.line ?? node.line)
        }
        var devices = "*"
        if let value = fields["devices"] {
            guard let glob = value.scalar?.string, !glob.isEmpty,
                glob.utf8.allSatisfy({ DeviceID.isIDByte($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") })
            else {
                throw fail("devices", "a glob on device ids such as \"*\" or \"greenhouse-*\" (A-Z a-z 0-9 _ - * ?)")
            }
            devices = glob
        }
        let conditionKeys = ["above", "below", "rate_above", "rate_below", "offline"].filter { fields[$0] != nil }
        guard conditionKeys.count == 1, let conditionKey = conditionKeys.first, let conditionNode = fields[conditionKey]
        else {
            throw fail(
                conditionKeys.first ?? "above",
                conditionKeys.isEmpty
                    ? "a rule needs exactly one condition: above, below, rate_above, rate_below or offline"
                    : "a rule has exactly one condition, but it has \(conditionKeys.joined(separator: " and ")); split it into two rules"
            )
        }
        let condition: AlertCondition
        switch conditionKey {
        case "above": condition = .above(try number(conditionNode, rule: name, field: "above"))
        case "below": condition = .below(try number(conditionNode, rule: name, field: "below"))
        case "rate_above": condition = .rateAbove(perSecond: try rate(conditionNode, rule: name, field: "rate_above"))
        case "rate_below": condition = .rateBelow(perSecond: try rate(conditionNode, rule: name, field: "rate_below"))
        default:
            let span = try duration(conditionNode, rule: name, field: "offline")
            guard span.milliseconds > 0 else { throw fail("offline", "must be positive, e.g. offline: 30s") }
            condition = .offline(span)
        }
        var metric: String?
        if case .offline = condition {
            for field in ["metric", "for", "clear"] where fields[field] != nil {
                throw fail(field, "offline rules watch the whole device; remove '\(field)'")
            }
        } else {
            guard let value = fields["metric"] else {
                throw fail("metric", "\(conditionKey) needs the metric it watches, e.g. metric: temperature")
            }
            guard let text = value.scalar?.string, Metric.isValidName(text) else {
                throw fail("metric", "a metric name is 1 to 64 characters from A-Z a-z 0-9 _ . -")
            }
            metric = text
        }
        var holdFor = TimeSpan(milliseconds: 0)
        if let value = fields["for"] { holdFor = try duration(value, rule: name, field: "for") }
        var clear: Double?
        if let value = fields["clear"] {
            let level =
                condition.isRate
                ? try rate(value, rule: name, field: "clear") : try number(value, rule: name, field: "clear")
            if condition.isUpward, level > condition.threshold {
                throw fail(
                    "clear", "must be at or below \(conditionKey) (\(condition.threshold)) so the alert can clear")
            }
            if !condition.isUpward, level < condition.threshold {
                throw fail(
                    "clear", "must be at or above \(conditionKey) (\(condition.threshold)) so the alert can clear")
            }
            clear = level
        }
        var severity = Severity.warning
        if let value = fields["severity"] {
            guard let text = value.scalar?.string, let parsed = Severity(rawValue: text) else {
                throw fail("severity", "must be info, warning or critical")
            }
            severity = parsed
        }
        return AlertRule(
            name: name, devices: devices, metric: metric, condition: condition, holdFor: holdFor, clear: clear,
            severity: severity)
    }

    static func number(_ node: Node, rule: String, field: String) throws(ConfigurationError) -> Double {
        guard let scalar = node.scalar, scalar.style == .plain, let value = Double(scalar.string), value.isFinite else {
            throw ConfigurationError(
                rule: rule, field: field,
                "expected a finite number such as 30 or -4.5, got '\(node.scalar?.string ?? "a list or mapping")'",
                line: node.line)
        }
        return value
    }

    /// `5/s`, `30/m`, `100/h` (also `/min`), as units per second.
    static func rate(_ node: Node, rule: String, field: String) throws(ConfigurationError) -> Double {
        let text = node.scalar?.string ?? ""
        let parts = text.split(separator: "/")
        let divisors: [Substring: Double] = ["s": 1, "m": 60, "min": 60, "h": 3600]
        guard parts.count == 2, let amount = Double(parts[0].trimmingSpaces), amount.isFinite,
            let divisor = divisors[parts[1].trimmingSpaces]
        else {
            throw ConfigurationError(
                rule: rule, field: field, "expected a rate such as 5/s, 30/m or 100/h, got '\(text)'", line: node.line)
        }
        return amount / divisor
    }

    static func duration(_ node: Node, rule: String?, field: String) throws(ConfigurationError) -> TimeSpan {
        guard let text = node.scalar?.string, let span = TimeSpan(parsing: text) else {
            throw ConfigurationError(
                rule: rule, field: field,
                "expected a duration such as 500ms, 10s, 1m or 1h, got '\(node.scalar?.string ?? "a list or mapping")'",
                line: node.line)
        }
        return span
    }
}

extension Node {
    fileprivate var line: Int? {
        switch self {
        case .scalar(let s): s.mark?.line
        case .mapping(let m): m.mark?.line
        case .sequence(let s): s.mark?.line
        default: nil
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
