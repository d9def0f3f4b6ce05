import Yams

/// Where in a profile a value sits, for error messages.
struct ProfileLocation {
    var file: String
    var deviceType: String?
    var metric: String?
    var fieldPrefix: String?

    func field(_ name: String) -> String {
        if let fieldPrefix { return "\(fieldPrefix).\(name)" }
        return name
    }

    func error(_ code: ProfileError.Code, _ node: Node?, field: String?, _ message: String) -> ProfileError {
        ProfileError(
            code: code,
            file: file,
            line: node?.mark?.line,
            deviceType: deviceType,
            metric: metric,
            field: field,
            message: message
        )
    }
}

/// Reads the fields of one YAML mapping, remembering which were used so that unknown
/// (misspelt) fields are reported instead of silently ignored.
struct MappingReader {
    let node: Node
    let location: ProfileLocation
    private var entries: [(key: String, value: Node)] = []

    init(_ node: Node, at location: ProfileLocation, what: String) throws(ProfileError) {
        self.node = node
        self.location = location
        guard case .mapping(let mapping) = node else {
            throw location.error(
                .wrongType,
                node,
                field: location.fieldPrefix,
                "\(what) must be a mapping of 'field: value' lines, got \(describe(node))"
            )
        }
        var merged: [Node] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                throw location.error(.wrongType, key, field: location.fieldPrefix, "field names must be plain words")
            }
            if name == "<<" {
                // YAML merge key: `<<: *defaults` (or a list of them); explicit fields win.
                if case .sequence(let items) = value { merged += items } else { merged.append(value) }
            } else {
                entries.append((name, value))
            }
        }
        for source in merged {
            guard case .mapping(let mapping) = source else {
                throw location.error(
                    .wrongType,
                    source,
                    field: location.field("<<"),
                    "a merge key ('<<') needs a mapping or a list of mappings, got \(describe(source))"
                )
            }
            for (key, value) in mapping {
                guard let name = key.scalar?.string, name != "<<" else { continue }
                if !entries.contains(where: { $0.key == name }) { entries.append((name, value)) }
            }
        }
    }

    /// Fails on any field not in `known`, suggesting the allowed ones.
    func rejectUnknown(_ known: [String]) throws(ProfileError) {
        for entry in entries where !known.contains(entry.key) {
            let suggestion = known.first { closeEnough($0, entry.key) }.map { " (did you mean '\($0)'?)" } ?? ""
            throw location.error(
                .unknownField,
                entry.value,
                field: location.field(entry.key),
                "unknown field\(suggestion); allowed here: \(known.joined(separator: ", "))"
            )
        }
    }

    func value(_ key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    func has(_ key: String) -> Bool { value(key) != nil }

    func required(_ key: String, _ hint: String) throws(ProfileError) -> Node {
        guard let node = value(key) else {
            throw location.error(.missingField, node, field: location.field(key), "is required: \(hint)")
        }
        return node
    }

    func string(_ key: String) throws(ProfileError) -> String? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node else {
            throw location.error(.wrongType, node, field: location.field(key), "must be text, got \(describe(node))")
        }
        return scalar.string
    }

    func double(_ key: String, _ range: ClosedRange<Double>? = nil, rangeText: String? = nil) throws(ProfileError)
        -> Double?
    {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node, let number = Double(scalar.string.trimmingSpaces()), number.isFinite
        else {
            throw location.error(
                .wrongType,
                node,
                field: location.field(key),
                "must be a finite number\(rangeText.map { " \($0)" } ?? ""), got \(describe(node))"
            )
        }
        if let range, !range.contains(number) {
            throw location.error(
                .outOfRange,
                node,
                field: location.field(key),
                "must be \(rangeText ?? "in \(range)"), got \(scalar.string)"
            )
        }
        return number
    }

    func integer(_ key: String, _ range: ClosedRange<Int>) throws(ProfileError) -> Int? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node, let number = Int(scalar.string.trimmingSpaces()) else {
            throw location.error(
                .wrongType,
                node,
                field: location.field(key),
                "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \(describe(node))"
            )
        }
        guard range.contains(number) else {
            throw location.error(
                .outOfRange,
                node,
                field: location.field(key),
                "must be from \(range.lowerBound) to \(range.upperBound), got \(number)"
            )
        }
        return number
    }

    /// A duration (`250ms`, `30s`, `5m`, `1h`; a bare number is seconds), in milliseconds.
    func duration(_ key: String, minimum: Int64 = 0) throws(ProfileError) -> Int64? {
        guard let node = value(key) else { return nil }
        guard case .scalar(let scalar) = node, let milliseconds = DurationText.milliseconds(scalar.string) else {
            throw location.error(
                .wrongType,
                node,
                field: location.field(key),
                "must be a duration such as 500ms, 30s, 5m or 1h, got \(describe(node))"
            )
        }
        guard milliseconds >= minimum else {
            throw location.error(
                .outOfRange,
                node,
                field: location.field(key),
                "must be at least \(DurationText.format(minimum)), got \(scalar.string)"
            )
        }
        return milliseconds
    }

    func sequence(_ key: String) throws(ProfileError) -> [Node]? {
        guard let node = value(key) else { return nil }
        guard case .sequence(let items) = node else {
            throw location.error(.wrongType, node, field: location.field(key), "must be a list, got \(describe(node))")
        }
        return Array(items)
    }

    func nested(_ key: String) -> ProfileLocation {
        var inner = location
        inner.fieldPrefix = location.field(key)
        return inner
    }
}

func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar): return "'\(scalar.string)'"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

/// Same length give or take one and at most two differing characters: a likely typo.
private func closeEnough(_ a: String, _ b: String) -> Bool {
    let x = Array(a.lowercased())
    let y = Array(b.lowercased())
    guard abs(x.count - y.count) <= 2 else { return false }
    // Levenshtein distance, small strings only.
    var previous = Array(0...y.count)
    for i in 1...max(x.count, 1) where !x.isEmpty {
        var current = [i] + Array(repeating: 0, count: y.count)
        for j in 1...max(y.count, 1) where !y.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[y.count] <= 2
}
