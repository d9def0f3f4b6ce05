/// A documented configuration setting: one name, three ways to give it.
///
/// Every setting has a flag (`--kafka-brokers`), an environment variable
/// (`FLUXGATE_KAFKA_BROKERS`) and a key in the YAML file (`kafka-brokers`), all derived from
/// its `name`; precedence is flag > environment > file > default.
public struct Setting: Hashable, Sendable {
    /// The kebab-case name: the flag without its dashes and the YAML key.
    public var name: String
    /// What the setting does and what values it takes, for `--help` and the reference docs.
    public var help: String
    /// The default, as the user would write it; `nil` when the setting has no default.
    public var defaultValue: String?

    public init(_ name: String, default defaultValue: String?, help: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.help = help
    }

    /// `--name`.
    public var flag: String { "--" + name }

    /// `FLUXGATE_NAME` with dashes and dots as underscores.
    public var environmentVariable: String {
        "FLUXGATE_" + String(name.uppercased().map { $0 == "-" || $0 == "." ? "_" : $0 })
    }
}
