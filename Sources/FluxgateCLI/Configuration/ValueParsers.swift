import Foundation

/// Parsers for the value types settings take. Each returns `nil` for a value it rejects; the
/// resolver turns that into an error naming the setting and the expected form.
public enum ValueParsers {
    /// A TCP port, 1...65535, or 0 for "any free port".
    public static func port(_ text: String) -> Int? {
        guard let port = Int(text), (0...65535).contains(port) else { return nil }
        return port
    }

    /// A comma-separated `host:port` list, e.g. `kafka-1:9092,kafka-2:9092`.
    public static func hostPortList(_ text: String) -> [HostPort]? {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var result: [HostPort] = []
        for part in parts {
            guard let hostPort = HostPort(String(part)) else { return nil }
            result.append(hostPort)
        }
        return result.isEmpty ? nil : result
    }

    /// A positive duration such as `250ms`, `10s`, `5m`, `1h`.
    public static func duration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [
            ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            guard let amount = Int64(number), amount > 0, amount <= Int64.max / unit.milliseconds / 1_000_000
            else { return nil }
            return .milliseconds(amount * unit.milliseconds)
        }
        return nil
    }

    /// A path to an existing directory (checked when the setting is resolved, at start-up).
    public static func existingDirectory(_ text: String) -> String? {
        var isDirectory: ObjCBool = false
        guard !text.isEmpty, FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory), isDirectory.boolValue
        else { return nil }
        return text
    }

    /// A browser origin as sent in the `Origin` header: `http` or `https`, `://`, a host and an
    /// optional port, nothing after (`https://dash.example.com:8443`).
    public static func origin(_ text: String) -> String? {
        let scheme: String
        if text.hasPrefix("https://") {
            scheme = "https://"
        } else if text.hasPrefix("http://") {
            scheme = "http://"
        } else {
            return nil
        }
        let rest = text.dropFirst(scheme.count)
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains(" ") else { return nil }
        if rest.hasPrefix("[") || rest.contains(":") {
            // A port, or an IPv6 host in brackets (with or without a port).
            if rest.hasPrefix("["), rest.hasSuffix("]") { return text }
            guard HostPort(String(rest)) != nil else { return nil }
        }
        return text
    }

    /// Comma-separated origins (see ``origin(_:)``), no empty item.
    public static func originList(_ text: String) -> [String]? {
        var result: [String] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let origin = origin(item.trimmingCharacters(in: .whitespaces)) else { return nil }
            result.append(origin)
        }
        return result
    }

    /// A log level name as swift-log spells it.
    public static func logLevel(_ text: String) -> String? {
        ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(text) ? text : nil
    }
}

/// A `host:port` pair; IPv6 hosts in brackets (`[::1]:9092`).
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; rejects a missing host, a missing or out-of-range port, and spaces.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), !text.contains(" ") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// An MQTT broker address: `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]`
/// (TLS, default port 8883), with optional `user:password@`.
public struct MQTTURL: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var tls: Bool
    public var username: String?
    public var password: String?

    public init?(_ text: String) {
        let scheme: Substring
        guard let separator = text.range(of: "://") else { return nil }
        scheme = text[..<separator.lowerBound]
        switch scheme {
        case "mqtt", "tcp": tls = false
        case "mqtts", "ssl": tls = true
        default: return nil
        }
        var rest = text[separator.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                username = String(credentials[..<colon])
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                username = String(credentials)
            }
        }
        guard !rest.isEmpty, !rest.contains("/") else { return nil }
        if let hostPort = HostPort(String(rest)) {
            host = hostPort.host
            port = hostPort.port
        } else if !rest.contains(":") || (rest.hasPrefix("[") && rest.hasSuffix("]")) {
            host = rest.hasPrefix("[") ? String(rest.dropFirst().dropLast()) : String(rest)
            port = tls ? 8883 : 1883
        } else {
            return nil
        }
    }

    public var description: String {
        let hostPort = HostPort(host: host, port: port)
        let user = username.map { "\($0)\(password == nil ? "" : ":***")@" } ?? ""
        return "\(tls ? "mqtts" : "mqtt")://\(user)\(hostPort)"
    }
}
