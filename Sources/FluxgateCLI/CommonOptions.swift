import ArgumentParser
import Foundation
import Logging
import Telemetry

/// Options every subcommand takes. Each also has a `FLUXGATE_*` environment variable and a key
/// in the `--config` YAML file; precedence is flag > environment > file > default.
struct CommonOptions: ParsableArguments {
    @Option(help: "YAML configuration file with settings by name. [env: FLUXGATE_CONFIG]")
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. [env: FLUXGATE_LOG_LEVEL] [default: info]")
    var logLevel: String?

    @Option(help: "Prefix of every Kafka topic name. [env: FLUXGATE_KAFKA_TOPIC_PREFIX] [default: fluxgate.]")
    var kafkaTopicPrefix: String?

    static let configSetting = Setting("config", default: nil, help: "YAML configuration file.")
    static let logLevelSetting = Setting("log-level", default: "info", help: "Log level.")
    static let topicPrefixSetting = Setting(
        "kafka-topic-prefix", default: FluxgateTopics.defaultPrefix, help: "Prefix of every Kafka topic name.")

    static let settings = [logLevelSetting, topicPrefixSetting]

    /// A resolver over the flags given, the environment and the configuration file (if any).
    ///
    /// - Parameter known: every setting the command takes; other keys in the file are errors.
    func resolver(flags: [String: String?] = [:], known: [Setting]) throws -> ConfigurationResolver {
        let environment = ProcessInfo.processInfo.environment
        var given = flags.compactMapValues { $0 }
        given["log-level"] = logLevel
        given["kafka-topic-prefix"] = kafkaTopicPrefix
        guard let path = config ?? environment[Self.configSetting.environmentVariable] else {
            return ConfigurationResolver(flags: given, environment: environment)
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(.unreadableFile, "cannot read the configuration file \(path): check the path and permissions.")
        }
        let file = try ConfigurationResolver.parseFile(text, path: path, known: Set(known.map(\.name)))
        return ConfigurationResolver(flags: given, environment: environment, file: file, filePath: path)
    }

    func topics(_ resolver: ConfigurationResolver) throws -> FluxgateTopics {
        try resolver.required(Self.topicPrefixSetting, expected: "letters, digits, '.', '_' or '-'") { prefix in
            let topics = FluxgateTopics(prefix: prefix)
            return topics.isValid ? topics : nil
        }
    }

    func logger(_ resolver: ConfigurationResolver, label: String) throws -> Logger {
        let level = try resolver.required(Self.logLevelSetting, expected: "trace, debug, info, notice, warning, error or critical") {
            ValueParsers.logLevel($0).flatMap(Logger.Level.init(rawValue:))
        }
        LoggingBootstrap.once()
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

/// Sends logs to standard error, once per process, so standard output stays for results
/// (such as the bootstrap list of `dev-kafka`).
enum LoggingBootstrap {
    private static let done: Void = {
        LoggingSystem.bootstrap { label in StreamLogHandler.standardError(label: label) }
    }()

    static func once() { done }
}
