/// Evaluates alert rules per device and rule as a pure, `Codable` state machine.
///
/// Each device+rule pair is `inactive` -> `pending` (condition holds, waiting `for`) -> `active`
/// (acknowledgeable) -> back to `inactive`, emitting ``AlertTransition`` values `active`,
/// `acknowledged` and `cleared` (pending is internal). There is at most one active alert per
/// device and rule.
///
/// - Metric rules run on readings in event-time order per device and rule: a reading whose `ts`
///   is not newer than the last one evaluated for that rule is ignored (late, duplicate or
///   replayed), which keeps replays and restarts from emitting contradictory transitions.
/// - `for` is measured in event time: the alert activates on the first reading whose `ts` is at
///   least `for` after the first reading of the current uninterrupted breach.
/// - Rate rules compare consecutive in-order readings: `(v - v_prev) / (ts - ts_prev)` per second.
/// - Offline rules use the caller's wall clock: ``advance(now:)`` activates once `now - lastArrival
///   >= offline` (activation time `lastArrival + offline`, so ids do not depend on when `advance`
///   runs); the next reading clears it. Only devices that have sent a reading are watched.
public struct AlertEvaluator: Sendable, Codable {
    enum Phase: Sendable, Hashable, Codable {
        case inactive
        case pending(since: Int64)
        case active(id: String, since: Int64, acknowledged: Bool, ackedBy: String? = nil)
    }

    struct RuleState: Sendable, Hashable, Codable {
        var phase = Phase.inactive
        /// Event time of the last reading evaluated (metric rules).
        var lastTs = Int64.min
        /// Last metric value (rate rules) and last observed value (messages, acknowledgements).
        var lastValue = Double.nan
        var lastObserved = Double.nan
        /// Wall clock of the last reading (offline rules).
        var lastArrival = Int64.min
    }

    /// The rules, in file order.
    public private(set) var rules: [AlertRule] {
        didSet { ruleFingerprints = Self.fingerprints(of: rules) }
    }
    var states: [DeviceID: [String: RuleState]] = [:]
    /// ``fingerprint(_:)`` of each rule, by name: computed when the rules are set, not for every
    /// device whose state is written or restored.
    private(set) var ruleFingerprints: [String: UInt64] = [:]

    /// Creates an evaluator with no history.
    public init(rules: [AlertRule]) {
        self.rules = rules
        self.ruleFingerprints = Self.fingerprints(of: rules)
    }

    private enum CodingKeys: String, CodingKey {
        case rules, states
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(rules: try container.decode([AlertRule].self, forKey: .rules))
        self.states = try container.decode([DeviceID: [String: RuleState]].self, forKey: .states)
    }

    /// Switches to new rules, e.g. after restoring a snapshot taken under an older rules file.
    /// State of unchanged rules (same name and definition) carries on. Active alerts of rules that
    /// were removed or changed are cleared at `ts` (returned, so no alert stays active forever);
    /// their other state is dropped.
    public mutating func replaceRules(_ newRules: [AlertRule], at ts: Int64) -> [AlertTransition] {
        var output: [AlertTransition] = []
        for device in states.keys.sorted() {
            guard var deviceStates = states[device] else { continue }
            for rule in rules where !newRules.contains(rule) {
                guard let state = deviceStates.removeValue(forKey: rule.name) else { continue }
                if case .active(let id, _, _, let ackedBy) = state.phase {
                    output.append(
                        Self.ruleGoneTransition(
                            id: id, device: device, rule: rule.name, metric: rule.metric, severity: rule.severity,
                            clearLevel: rule.clearLevel, lastObserved: state.lastObserved, ackedBy: ackedBy, ts: ts))
                }
            }
            states[device] = deviceStates
        }
        rules = newRules
        return output
    }

    /// Number of alerts currently active (acknowledged or not).
    public var activeCount: Int {
        states.values.reduce(0) { total, rules in
            total + rules.values.filter { if case .active = $0.phase { true } else { false } }.count
        }
    }

    /// The ids of the active alerts of `device`, by rule name.
    public func activeAlerts(device: DeviceID) -> [String: String] {
        var result: [String: String] = [:]
        for (rule, state) in states[device] ?? [:] {
            if case .active(let id, _, _, _) = state.phase { result[rule] = id }
        }
        return result
    }

    /// Evaluates a reading that arrived at wall clock `arrivedAt`; returns transitions in rule order.
    public mutating func evaluate(_ reading: Reading, arrivedAt: Int64) -> [AlertTransition] {
        var output: [AlertTransition] = []
        guard !rules.isEmpty else { return output }
        // Taken out while it changes, so that it is not copied (put back below).
        var deviceStates = states.removeValue(forKey: reading.device) ?? [:]
        defer { if !deviceStates.isEmpty { states[reading.device] = deviceStates } }
        for rule in rules where rule.matches(reading.device) {
            var state = deviceStates[rule.name] ?? RuleState()
            if case .offline = rule.condition {
                let silence = Double(arrivedAt.saturatingSubtract(state.lastArrival)) / 1000
                state.lastArrival = max(state.lastArrival, arrivedAt)
                if case .active(let id, _, _, let ackedBy) = state.phase {
                    state.phase = .inactive
                    var cleared = transition(
                        rule, reading.device, id: id, state: .cleared, value: silence,
                        threshold: rule.condition.threshold,
                        ts: arrivedAt, message: "\(reading.device) is reporting again after \(Self.format(silence))s")
                    cleared.ackedBy = ackedBy
                    output.append(cleared)
                }
                deviceStates[rule.name] = state
                continue
            }
            guard let metric = rule.metric, let value = reading.value(of: metric), reading.ts > state.lastTs else {
                continue
            }
            let previousTs = state.lastTs
            let previousValue = state.lastValue
            state.lastTs = reading.ts
            state.lastValue = value
            let observed: Double
            switch rule.condition {
            case .rateAbove, .rateBelow:
                guard previousTs != .min else {
                    deviceStates[rule.name] = state
                    continue
                }
                observed = (value - previousValue) / (Double(reading.ts.saturatingSubtract(previousTs)) / 1000)
            default:
                observed = value
            }
            state.lastObserved = observed
            if let t = step(rule, reading.device, &state, observed: observed, ts: reading.ts) { output.append(t) }
            deviceStates[rule.name] = state
        }
        return output
    }

    private func step(_ rule: AlertRule, _ device: DeviceID, _ state: inout RuleState, observed: Double, ts: Int64)
        -> AlertTransition?
    {
        let threshold = rule.condition.threshold
        let breaching = rule.condition.isUpward ? observed > threshold : observed < threshold
        switch state.phase {
        case .inactive, .pending:
            guard breaching else {
                state.phase = .inactive
                return nil
            }
            var since = ts
            if case .pending(let start) = state.phase { since = start }
            guard ts.saturatingSubtract(since) >= rule.holdFor.milliseconds else {
                state.phase = .pending(since: since)
                return nil
            }
            let id = AlertTransition.alertID(device: device, rule: rule.name, activatedAt: ts)
            state.phase = .active(id: id, since: ts, acknowledged: false)
            let unit = rule.condition.isRate ? "/s" : ""
            let held =
                rule.holdFor.milliseconds > 0 ? " for \(TimeSpan(milliseconds: ts.saturatingSubtract(since)))" : ""
            return transition(
                rule, device, id: id, state: .active, value: observed, threshold: threshold, ts: ts,
                message:
                    "\(rule.metric ?? "") \(Self.format(observed))\(unit) \(rule.condition.isUpward ? "above" : "below") \(Self.format(threshold))\(unit)\(held) on \(device)"
            )
        case .active(let id, _, _, let ackedBy):
            let level = rule.clearLevel
            let clears = rule.condition.isUpward ? observed <= level : observed >= level
            guard clears else { return nil }
            state.phase = .inactive
            let unit = rule.condition.isRate ? "/s" : ""
            var cleared = transition(
                rule, device, id: id, state: .cleared, value: observed, threshold: level, ts: ts,
                message:
                    "\(rule.metric ?? "") back to \(Self.format(observed))\(unit) on \(device) (clear level \(Self.format(level))\(unit))"
            )
            cleared.ackedBy = ackedBy
            return cleared
        }
    }

    /// Activates offline rules for devices silent since before `now - offline` (wall clock, epoch ms).
    public mutating func advance(now: Int64) -> [AlertTransition] {
        var output: [AlertTransition] = []
        func isDue(_ rule: AlertRule, _ state: RuleState?) -> Bool {
            guard case .offline(let span) = rule.condition, let state, state.lastArrival != .min,
                case .inactive = state.phase
            else { return false }
            return now.saturatingSubtract(state.lastArrival) >= span.milliseconds
        }
        let offline = rules.filter { if case .offline = $0.condition { true } else { false } }
        guard !offline.isEmpty else { return output }
        // Called on every tick: find the few devices due before sorting anything.
        var due: [DeviceID] = []
        for (device, deviceStates) in states where offline.contains(where: { isDue($0, deviceStates[$0.name]) }) {
            due.append(device)
        }
        for device in due.sorted() {
            guard var deviceStates = states[device] else { continue }
            for rule in rules {
                guard case .offline(let span) = rule.condition, var state = deviceStates[rule.name], isDue(rule, state)
                else { continue }
                let activatedAt = state.lastArrival.saturatingAdd(span.milliseconds)
                let id = AlertTransition.alertID(device: device, rule: rule.name, activatedAt: activatedAt)
                state.phase = .active(id: id, since: activatedAt, acknowledged: false)
                deviceStates[rule.name] = state
                output.append(
                    transition(
                        rule, device, id: id, state: .active, value: rule.condition.threshold,
                        threshold: rule.condition.threshold,
                        ts: activatedAt, message: "no reading from \(device) for \(span)"))
            }
            states[device] = deviceStates
        }
        return output
    }

    /// Acknowledges the active alert `id` at `ts` (an operator record, see ``OperatorRecord``), by
    /// operator `by`. Returns the `acknowledged` transition, or `nil` when no active alert has that
    /// id or it was already acknowledged.
    public mutating func acknowledge(id: String, at ts: Int64, by operatorName: String? = nil) -> AlertTransition? {
        for device in states.keys.sorted() {
            guard var deviceStates = states[device] else { continue }
            for rule in rules {
                guard var state = deviceStates[rule.name],
                    case .active(let activeID, let since, let acknowledged, _) = state.phase,
                    activeID == id
                else { continue }
                guard !acknowledged else { return nil }
                state.phase = .active(id: id, since: since, acknowledged: true, ackedBy: operatorName)
                deviceStates[rule.name] = state
                states[device] = deviceStates
                let value = state.lastObserved.isNaN ? rule.condition.threshold : state.lastObserved
                var acknowledgement = transition(
                    rule, device, id: id, state: .acknowledged, value: value, threshold: rule.condition.threshold,
                    ts: ts,
                    message: "\(rule.name) on \(device) acknowledged" + (operatorName.map { " by \($0)" } ?? ""))
                acknowledgement.ackedBy = operatorName
                return acknowledgement
            }
        }
        return nil
    }

    private func transition(
        _ rule: AlertRule, _ device: DeviceID, id: String, state: AlertState, value: Double, threshold: Double,
        ts: Int64,
        message: String
    ) -> AlertTransition {
        AlertTransition(
            id: id, device: device, rule: rule.name, metric: rule.metric, severity: rule.severity, state: state,
            value: value,
            threshold: threshold, ts: ts, message: message)
    }

    /// The `cleared` transition of an active alert whose rule was changed or removed (by
    /// ``replaceRules(_:at:)``, or found so when a device's state is restored).
    static func ruleGoneTransition(
        id: String, device: DeviceID, rule: String, metric: String?, severity: Severity, clearLevel: Double,
        lastObserved: Double, ackedBy: String?, ts: Int64
    ) -> AlertTransition {
        AlertTransition(
            id: id, device: device, rule: rule, metric: metric, severity: severity, state: .cleared,
            value: lastObserved.isNaN ? clearLevel : lastObserved, threshold: clearLevel, ts: ts,
            message: "rule \(rule) was changed or removed; alert closed", ackedBy: ackedBy)
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String((value * 1000).rounded() / 1000)
    }
}

extension AlertCondition {
    var isRate: Bool {
        switch self {
        case .rateAbove, .rateBelow: true
        default: false
        }
    }
}
