import Yams

/// Resolves settings from flags, the environment, a YAML file and defaults, in that order.
///
/// Build one per command run with the flags the user gave (only those, not defaults), the
/// process environment and the parsed file; then ask it for typed values. Every value is
/// validated by the parser it is asked with, and a bad value becomes a ``ConfigurationError``
/// that names the setting and where the value came from.
public struct ConfigurationResolver: Sendable {
    private let flags: [String: String]
    private let environment: [String: String]
    private let file: [String: String]
    private let filePath: String

    /// - Parameters:
    ///   - flags: values given on the command line, keyed by setting name.
    ///   - environment: the process environment (only `FLUXGATE_*` entries are read).
    ///   - file: flattened scalar values from the YAML file, keyed by setting name.
    ///   - filePath: the file's path, for messages.
    public init(
        flags: [String: String] = [:],
        environment: [String: String] = [:],
        file: [String: String] = [:],
        filePath: String = "configuration file"
    ) {
        self.flags = flags
        self.environment = environment
        self.file = file
        self.filePath = filePath
    }

    /// The raw value of `setting` and where it came from; `nil` if it is unset and has no default.
    public func raw(_ setting: Setting) -> (value: String, source: ConfigurationSource)? {
        if let value = flags[setting.name] { return (value, .flag(setting.flag)) }
        if let value = environment[setting.environmentVariable] {
            return (value, .environment(setting.environmentVariable))
        }
        if let value = file[setting.name] { return (value, .file(path: filePath, key: setting.name)) }
        if let value = setting.defaultValue { return (value, .default) }
        return nil
    }

    /// The value of `setting` converted by `parse`, which returns `nil` for values it rejects.
    ///
    /// - Parameter expected: what a valid value looks like, for the error message.
    public func value<Value>(
        _ setting: Setting,
        expected: String,
        _ parse: (String) -> Value?
    ) throws(ConfigurationError) -> Value? {
        guard let (text, source) = raw(setting) else { return nil }
        guard let value = parse(text) else {
            throw ConfigurationError(
                .invalidValue,
                "invalid value '\(text)' for \(setting.name) (from \(source)): expected \(expected)."
            )
        }
        return value
    }

    /// Like ``value(_:expected:_:)`` for a setting that must have a value.
    public func required<Value>(
        _ setting: Setting,
        expected: String,
        _ parse: (String) -> Value?
    ) throws(ConfigurationError) -> Value {
        guard let value = try value(setting, expected: expected, parse) else {
            throw ConfigurationError(
                .invalidValue,
                "\(setting.name) is required: pass \(setting.flag), set \(setting.environmentVariable) "
                    + "or add '\(setting.name):' to the configuration file; expected \(expected)."
            )
        }
        return value
    }
}

extension ConfigurationResolver {
    /// Parses a YAML configuration file's text into flat `name: value` pairs.
    ///
    /// The file is a mapping of setting names to scalars or lists of scalars (a list is joined
    /// with commas, so `kafka-brokers: [a:9092, b:9092]` equals `a:9092,b:9092`). Keys not in
    /// `known` are rejected, naming the closest valid keys, so that a typo does not silently
    /// fall back to a default.
    public static func parseFile(
        _ text: String,
        path: String,
        known: Set<String>
    ) throws(ConfigurationError) -> [String: String] {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(.unreadableFile, "\(path) is not valid YAML: \(error)")
        }
        guard let node else { return [:] }
        guard let mapping = node.mapping else {
            throw ConfigurationError(
                .unreadableFile,
                "\(path) must be a YAML mapping of setting names to values, e.g. 'http-port: 8080'."
            )
        }
        var values: [String: String] = [:]
        for (keyNode, valueNode) in mapping {
            guard let key = keyNode.string else {
                throw ConfigurationError(.unreadableFile, "\(path): every key must be a setting name.")
            }
            guard known.contains(key) else {
                let suggestions = known.sorted().filter { $0.hasPrefix(String(key.prefix(3))) }
                let hint = suggestions.isEmpty ? "" : " Did you mean \(suggestions.joined(separator: ", "))?"
                throw ConfigurationError(.unknownKey, "\(path): unknown setting '\(key)'.\(hint)")
            }
            if let scalar = valueNode.scalar {
                values[key] = scalar.string
            } else if let sequence = valueNode.sequence, sequence.allSatisfy({ $0.scalar != nil }) {
                values[key] = sequence.compactMap { $0.scalar?.string }.joined(separator: ",")
            } else {
                throw ConfigurationError(
                    .invalidValue,
                    "\(path): '\(key)' must be a single value or a list of values."
                )
            }
        }
        return values
    }
}
