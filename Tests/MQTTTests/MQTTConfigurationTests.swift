import Testing

@testable import MQTT

@Suite struct MQTTConfigurationTests {
    @Test(arguments: [
        ("mqtt://broker.local:1884", "broker.local", 1884, false),
        ("mqtt://10.0.0.1", "10.0.0.1", 1883, false),
        ("mqtts://secure.example", "secure.example", 8883, true),
        ("mqtt://[::1]:2000", "::1", 2000, false),
        ("tcp://127.0.0.1:1883/", "127.0.0.1", 1883, false),
    ])
    func parsesURLs(url: String, host: String, port: Int, tls: Bool) throws {
        let configuration = try MQTTConfiguration(url: url)
        #expect(configuration.host == host)
        #expect(configuration.port == port)
        #expect((configuration.tls != nil) == tls)
        try configuration.validate()
    }

    @Test func urlCredentials() throws {
        let configuration = try MQTTConfiguration(url: "mqtt://ingress:s3cret@127.0.0.1:1883")
        #expect(configuration.credentials == .init(username: "ingress", password: "s3cret"))
    }

    @Test(arguments: ["http://host", "mqtt://", "mqtt://host:0", "mqtt://host:99999", "mqtt://host:abc", "host:1883"])
    func rejectsBadURLs(url: String) {
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: url) }
        do {
            _ = try MQTTConfiguration(url: url)
        } catch {
            #expect(error.code == .invalidConfiguration)
        }
    }

    @Test func defaultsAreValid() throws {
        let configuration = MQTTConfiguration()
        try configuration.validate()
        #expect(configuration.clientID.hasPrefix("fluxgate-"))
        #expect(configuration.acknowledgement == .deferred)
        #expect(configuration.protocolVersion == .v5)
    }

    @Test func rejectsBadValues() {
        var configuration = MQTTConfiguration()
        configuration.keepAlive = .seconds(2)
        #expect(throws: MQTTError.self) { try configuration.validate() }
        configuration = MQTTConfiguration()
        configuration.bufferLimit = 10
        configuration.maxBatchSize = 100
        #expect(throws: MQTTError.self) { try configuration.validate() }
        configuration = MQTTConfiguration()
        configuration.protocolVersion = .v311
        configuration.sessionExpiry = .seconds(60)
        #expect(throws: MQTTError.self) { try configuration.validate() }
        configuration = MQTTConfiguration()
        configuration.keepAlive = .seconds(5)
        configuration.maxReadAhead = .seconds(3)
        #expect(throws: MQTTError.self) { try configuration.validate() }
        configuration = MQTTConfiguration()
        configuration.will = .init(topic: "devices/+/status", payload: [])
        #expect(throws: MQTTError.self) { try configuration.validate() }
        #expect(throws: MQTTError.self) { try MQTTClient(configuration: configuration) }
    }
}
