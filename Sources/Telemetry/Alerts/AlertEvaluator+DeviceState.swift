/// The alert state of one device in binary (``StateWriter``), for a changelog that stores devices
/// one by one.
///
/// Layout: the number of rule states (0: none), then per rule: its name, a fingerprint of the
/// rule's definition (FNV-1a 64, fixed 8 bytes), the phase (0 inactive; 1 pending + since;
/// 2 active + id, since, acknowledged, ackedBy, and the rule's metric, severity and clear level),
/// `lastTs`, `lastValue`, `lastObserved`, `lastArrival`. A state restores only under a rule of the
/// same name and definition; an active alert of a rule that was changed or removed is cleared on
/// restore, as ``replaceRules(_:at:)`` does (that is why active states carry what the `cleared`
/// transition needs).
extension AlertEvaluator {
    /// Limits applied when restoring.
    public enum StateLimits {
        /// Rule states per device.
        public static let maxRules = 4096
        /// Bytes of a rule name, alert id, operator name or metric name.
        public static let maxStringBytes = 1024
    }

    /// Writes the alert state of `device`; returns `false` when the evaluator holds none (only the
    /// count 0 is written then).
    @discardableResult
    public func encodeState(of device: DeviceID, into writer: inout StateWriter) -> Bool {
        guard let ruleStates = states[device], !ruleStates.isEmpty else {
            writer.varint(0)
            return false
        }
        writer.varint(UInt64(ruleStates.count))
        for name in ruleStates.keys.sorted() {
            let state = ruleStates[name, default: RuleState()]
            let rule = rules.first { $0.name == name }
            writer.string(name)
            writer.fixed64(ruleFingerprints[name] ?? 0)
            switch state.phase {
            case .inactive:
                writer.byte(0)
            case .pending(let since):
                writer.byte(1)
                writer.signed(since)
            case .active(let id, let since, let acknowledged, let ackedBy):
                writer.byte(2)
                writer.string(id)
                writer.signed(since)
                writer.byte(acknowledged ? 1 : 0)
                writer.optionalString(ackedBy)
                writer.optionalString(rule?.metric)
                writer.string((rule?.severity ?? .warning).rawValue)
                writer.double(rule?.clearLevel ?? .nan)
            }
            writer.signed(state.lastTs)
            writer.double(state.lastValue)
            writer.double(state.lastObserved)
            writer.signed(state.lastArrival)
        }
        return true
    }

    /// Replaces the alert state of `device` with one read from `reader`. States of rules that no
    /// longer exist with the same definition are dropped; their active alerts are cleared at `ts`
    /// (the transitions are returned, in rule-name order). On error the evaluator is unchanged.
    public mutating func restoreState(of device: DeviceID, from reader: inout StateReader, at ts: Int64)
        throws(StateDecodingError) -> [AlertTransition]
    {
        let count = try reader.count(max: StateLimits.maxRules, of: "rule states")
        var restored: [String: RuleState] = [:]
        var output: [AlertTransition] = []
        for _ in 0..<count {
            let name = try reader.string(maxBytes: StateLimits.maxStringBytes)
            let fingerprint = try reader.fixed64()
            var state = RuleState()
            var closing: (metric: String?, severity: Severity, clearLevel: Double)?
            switch try reader.byte() {
            case 0:
                state.phase = .inactive
            case 1:
                state.phase = .pending(since: try reader.signed())
            case 2:
                let id = try reader.string(maxBytes: StateLimits.maxStringBytes)
                let since = try reader.signed()
                let acknowledged = try reader.byte() != 0
                let ackedBy = try reader.optionalString(maxBytes: StateLimits.maxStringBytes)
                let metric = try reader.optionalString(maxBytes: StateLimits.maxStringBytes)
                let severityName = try reader.string(maxBytes: StateLimits.maxStringBytes)
                guard let severity = Severity(rawValue: severityName) else {
                    throw StateDecodingError("unknown severity '\(severityName)'")
                }
                closing = (metric, severity, try reader.double())
                state.phase = .active(id: id, since: since, acknowledged: acknowledged, ackedBy: ackedBy)
            case let other:
                throw StateDecodingError("alert phase \(other)")
            }
            state.lastTs = try reader.signed()
            state.lastValue = try reader.double()
            state.lastObserved = try reader.double()
            state.lastArrival = try reader.signed()
            if ruleFingerprints[name] == fingerprint {
                restored[name] = state
            } else if case .active(let id, _, _, let ackedBy) = state.phase, let closing {
                output.append(
                    Self.ruleGoneTransition(
                        id: id, device: device, rule: name, metric: closing.metric, severity: closing.severity,
                        clearLevel: closing.clearLevel, lastObserved: state.lastObserved, ackedBy: ackedBy, ts: ts))
            }
        }
        states[device] = restored.isEmpty ? nil : restored
        return output.sorted { $0.rule < $1.rule }
    }

    /// ``fingerprint(_:)`` by rule name (the first rule of a name, as `encodeState` looks them up).
    static func fingerprints(of rules: [AlertRule]) -> [String: UInt64] {
        Dictionary(rules.map { ($0.name, fingerprint($0)) }, uniquingKeysWith: { first, _ in first })
    }

    /// A fingerprint of a rule's definition, stable across processes: FNV-1a 64 over its fields.
    static func fingerprint(_ rule: AlertRule) -> UInt64 {
        var writer = StateWriter(capacity: 96)
        writer.string(rule.name)
        writer.string(rule.devices)
        writer.optionalString(rule.metric)
        switch rule.condition {
        case .above(let t):
            writer.byte(0)
            writer.double(t)
        case .below(let t):
            writer.byte(1)
            writer.double(t)
        case .rateAbove(let t):
            writer.byte(2)
            writer.double(t)
        case .rateBelow(let t):
            writer.byte(3)
            writer.double(t)
        case .offline(let span):
            writer.byte(4)
            writer.signed(span.milliseconds)
        }
        writer.signed(rule.holdFor.milliseconds)
        if let clear = rule.clear {
            writer.byte(1)
            writer.double(clear)
        } else {
            writer.byte(0)
        }
        writer.string(rule.severity.rawValue)
        return FNV1a64.hash(writer.bytes)
    }
}

extension AlertEvaluator {
    /// Forgets the alert state of `device`.
    public mutating func removeState(of device: DeviceID) {
        states[device] = nil
    }
}
