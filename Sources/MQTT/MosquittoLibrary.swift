import CMosquitto

/// libmosquitto process-wide set-up and error texts.
enum MosquittoLibrary {
    /// `mosquitto_lib_init()` runs once, on first use (Swift globals initialise lazily and once).
    private static let initialized: Int32 = mosquitto_lib_init()

    static func ensureInitialized() {
        _ = initialized
    }

    /// libmosquitto's text for a `mosq_err_t`.
    static func describe(_ code: Int32) -> String {
        guard let text = mosquitto_strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }

    /// The text for a CONNACK / PUBACK / SUBACK reason code.
    static func describeReason(_ code: Int32) -> String {
        guard let text = mosquitto_reason_string(code) else { return "reason \(code)" }
        return String(cString: text)
    }

    /// The text for a CONNACK return code of MQTT 3.1.1.
    static func describeConnack(_ code: Int32) -> String {
        guard let text = mosquitto_connack_string(code) else { return "return code \(code)" }
        return String(cString: text)
    }

    static func error(_ code: Int32, _ what: String, _ errorCode: MQTTError.Code = .library) -> MQTTError {
        MQTTError(code: errorCode, message: "\(what): \(describe(code))", mosquittoError: code)
    }
}
