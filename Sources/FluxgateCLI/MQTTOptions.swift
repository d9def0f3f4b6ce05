import ArgumentParser
import Foundation
import MQTT

/// MQTT connection options shared by the stages that talk to the broker.
struct MQTTOptions: ParsableArguments {
    @Option(help: "MQTT broker, mqtt://[user:password@]host[:port] or mqtts://... [env: FLUXGATE_MQTT_URL] [default: mqtt://127.0.0.1:1883]")
    var mqttURL: String?

    @Option(help: "MQTT client id; must be stable and unique per instance. [env: FLUXGATE_MQTT_CLIENT_ID] [default: fluxgate-<stage>-<hostname>]")
    var mqttClientID: String?

    @Option(help: "How long the broker keeps this client's session (and its queued messages) while it is away. [env: FLUXGATE_MQTT_SESSION_EXPIRY] [default: 1h]")
    var mqttSessionExpiry: String?

    @Option(help: "MQTT protocol version: 5 or 3.1.1. [env: FLUXGATE_MQTT_PROTOCOL] [default: 5]")
    var mqttProtocol: String?

    static let protocolSetting = Setting("mqtt-protocol", default: "5", help: "MQTT protocol version, 5 or 3.1.1.")
    static let urlSetting = Setting("mqtt-url", default: "mqtt://127.0.0.1:1883", help: "MQTT broker URL.")
    static let sessionExpirySetting = Setting("mqtt-session-expiry", default: "1h", help: "MQTT session expiry.")
    static func clientIDSetting(default value: String) -> Setting {
        Setting("mqtt-client-id", default: value, help: "MQTT client id, stable and unique per instance.")
    }

    static func settings(defaultClientID: String) -> [Setting] {
        [urlSetting, protocolSetting, sessionExpirySetting, clientIDSetting(default: defaultClientID)]
    }

    /// `fluxgate-<stage>-<hostname>`, stable across restarts on one host.
    static func defaultClientID(_ stage: String) -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        return String("fluxgate-\(stage)-\(host)".prefix(64))
    }

    /// Letters, digits, `_` and `-` only: safe inside a topic level and a client id.
    static func isTopicLevelName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 64
            && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }
    }

    var flags: [String: String?] {
        [
            "mqtt-url": mqttURL, "mqtt-client-id": mqttClientID, "mqtt-session-expiry": mqttSessionExpiry,
            "mqtt-protocol": mqttProtocol,
        ]
    }

    func configuration(_ resolver: ConfigurationResolver, defaultClientID: String) throws -> MQTTConfiguration {
        let url = try resolver.required(Self.urlSetting, expected: "mqtt://host[:port] or mqtts://host[:port]", MQTTURL.init)
        let clientID = try resolver.required(
            Self.clientIDSetting(default: defaultClientID), expected: "1-64 letters, digits, '_' or '-'", { Self.isTopicLevelName($0) ? $0 : nil })
        // MQTT 5 carries the expiry as a 32-bit number of seconds.
        let expiry = try resolver.required(
            Self.sessionExpirySetting, expected: "a duration such as 30m or 1h, at most 4294967295s (about 136 years)"
        ) { ValueParsers.duration($0).flatMap { $0 <= .seconds(UInt32.max) ? $0 : nil } }
        let version = try resolver.required(Self.protocolSetting, expected: "5 or 3.1.1") { text -> MQTTConfiguration.ProtocolVersion? in
            switch text {
            case "5", "5.0": .v5
            case "3.1.1", "311", "4": .v311
            default: nil
            }
        }
        var configuration = MQTTConfiguration(host: url.host, port: url.port, clientID: clientID)
        configuration.protocolVersion = version
        // MQTT 3.1.1 has no session expiry: the broker's persistent_client_expiration decides.
        configuration.sessionExpiry = version == .v5 ? expiry : .zero
        if let username = url.username {
            configuration.credentials = .init(username: username, password: url.password)
        }
        if url.tls {
            var tls = MQTTConfiguration.TLS()
            tls.useSystemCertificates = true
            configuration.tls = tls
        }
        return configuration
    }
}
