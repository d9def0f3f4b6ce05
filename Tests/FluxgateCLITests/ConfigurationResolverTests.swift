import Testing

@testable import FluxgateCLI

@Suite struct ConfigurationResolverTests {
    let port = Setting("http-port", default: "8080", help: "")
    let brokers = Setting("kafka-brokers", default: nil, help: "")

    @Test func flagBeatsEnvironmentBeatsFileBeatsDefault() throws {
        let all = ConfigurationResolver(
            flags: ["http-port": "1"],
            environment: ["FLUXGATE_HTTP_PORT": "2"],
            file: ["http-port": "3"]
        )
        #expect(try all.value(port, expected: "a port", ValueParsers.port) == 1)
        let noFlag = ConfigurationResolver(environment: ["FLUXGATE_HTTP_PORT": "2"], file: ["http-port": "3"])
        #expect(try noFlag.value(port, expected: "a port", ValueParsers.port) == 2)
        let fileOnly = ConfigurationResolver(file: ["http-port": "3"], filePath: "f.yaml")
        #expect(try fileOnly.value(port, expected: "a port", ValueParsers.port) == 3)
        #expect(fileOnly.raw(port)?.source == .file(path: "f.yaml", key: "http-port"))
        #expect(try ConfigurationResolver().value(port, expected: "a port", ValueParsers.port) == 8080)
        #expect(ConfigurationResolver().raw(port)?.source == .default)
    }

    @Test func badValueNamesSettingAndSource() {
        let resolver = ConfigurationResolver(environment: ["FLUXGATE_HTTP_PORT": "eighty"])
        #expect(throws: ConfigurationError.self) {
            try resolver.value(port, expected: "a port number 0-65535", ValueParsers.port)
        }
        do {
            _ = try resolver.value(port, expected: "a port number 0-65535", ValueParsers.port)
        } catch {
            #expect(error.code == .invalidValue)
            #expect(error.message.contains("'eighty'"))
            #expect(error.message.contains("FLUXGATE_HTTP_PORT"))
            #expect(error.message.contains("0-65535"))
        }
    }

    @Test func requiredSettingSaysHowToGiveIt() {
        do {
            _ = try ConfigurationResolver().required(brokers, expected: "host:port,...", ValueParsers.hostPortList)
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("--kafka-brokers"))
            #expect(error.message.contains("FLUXGATE_KAFKA_BROKERS"))
        }
    }

    @Test func fileListsJoinAndUnknownKeysAreRejected() throws {
        let known: Set = ["kafka-brokers", "http-port"]
        let values = try ConfigurationResolver.parseFile(
            "kafka-brokers: [a:9092, 'b:9093']\nhttp-port: 9000\n", path: "f.yaml", known: known)
        #expect(values == ["kafka-brokers": "a:9092,b:9093", "http-port": "9000"])
        #expect(throws: ConfigurationError(.unknownKey, "f.yaml: unknown setting 'http-prot'. Did you mean http-port?")) {
            try ConfigurationResolver.parseFile("http-prot: 1\n", path: "f.yaml", known: known)
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationResolver.parseFile("- a\n- b\n", path: "f.yaml", known: known)
        }
        #expect(throws: ConfigurationError.self) {
            try ConfigurationResolver.parseFile("http-port: {nested: 1}\n", path: "f.yaml", known: known)
        }
        #expect(try ConfigurationResolver.parseFile("", path: "f.yaml", known: known).isEmpty)
    }

    @Test func environmentVariableNames() {
        #expect(Setting("kafka-topic-prefix", default: nil, help: "").environmentVariable == "FLUXGATE_KAFKA_TOPIC_PREFIX")
        #expect(Setting("http-port", default: nil, help: "").flag == "--http-port")
    }
}

@Suite struct ValueParsersTests {
    @Test(arguments: [
        ("localhost:9092", [HostPort(host: "localhost", port: 9092)]),
        ("a:1,b:65535", [HostPort(host: "a", port: 1), HostPort(host: "b", port: 65535)]),
        ("[::1]:9092", [HostPort(host: "::1", port: 9092)]),
    ])
    func validHostPortLists(text: String, expected: [HostPort]) {
        #expect(ValueParsers.hostPortList(text) == expected)
    }

    @Test(arguments: ["", "localhost", ":9092", "a:0", "a:65536", "a:9092,", "a :9092", "a:x"])
    func invalidHostPortLists(text: String) {
        #expect(ValueParsers.hostPortList(text) == nil)
    }

    @Test func mqttURLs() throws {
        let plain = try #require(MQTTURL("mqtt://broker"))
        #expect(plain.host == "broker" && plain.port == 1883 && !plain.tls)
        let tls = try #require(MQTTURL("mqtts://u:p@broker:9999/"))
        #expect(tls.host == "broker" && tls.port == 9999 && tls.tls && tls.username == "u" && tls.password == "p")
        #expect(tls.description == "mqtts://u:***@broker:9999")
        let v6 = try #require(MQTTURL("mqtt://[::1]:1884"))
        #expect(v6.host == "::1" && v6.port == 1884)
        for bad in ["broker:1883", "http://broker", "mqtt://", "mqtt://broker:x", "mqtt://broker/topic"] {
            #expect(MQTTURL(bad) == nil, "\(bad)")
        }
    }

    @Test func durations() {
        #expect(ValueParsers.duration("250ms") == .milliseconds(250))
        #expect(ValueParsers.duration("10s") == .seconds(10))
        #expect(ValueParsers.duration("5m") == .seconds(300))
        #expect(ValueParsers.duration("1h") == .seconds(3600))
        for bad in ["", "10", "0s", "-1s", "1.5s", "s", "10 s", "99999999999999999h"] {
            #expect(ValueParsers.duration(bad) == nil, "\(bad)")
        }
    }

    @Test func portsAndLogLevels() {
        #expect(ValueParsers.port("0") == 0)
        #expect(ValueParsers.port("65535") == 65535)
        #expect(ValueParsers.port("65536") == nil)
        #expect(ValueParsers.port("-1") == nil)
        #expect(ValueParsers.logLevel("debug") == "debug")
        #expect(ValueParsers.logLevel("loud") == nil)
    }
}
