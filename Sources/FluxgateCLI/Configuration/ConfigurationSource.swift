/// Where a setting's value came from, in order of precedence.
public enum ConfigurationSource: Equatable, Sendable, CustomStringConvertible {
    /// A command-line flag, e.g. `--http-port`.
    case flag(String)
    /// An environment variable, e.g. `FLUXGATE_HTTP_PORT`.
    case environment(String)
    /// A key in the YAML configuration file.
    case file(path: String, key: String)
    /// The documented default.
    case `default`

    public var description: String {
        switch self {
        case .flag(let flag): "flag \(flag)"
        case .environment(let name): "environment variable \(name)"
        case .file(let path, let key): "key '\(key)' in \(path)"
        case .default: "default"
        }
    }
}
