import ArgumentParser

/// Kafka options of the stages that consume (windowing, hub).
struct KafkaConsumerOptions: ParsableArguments {
    @Option(help: "Longest a broker holds a fetch that finds no records; use 10ms against the dev cluster. [env: FLUXGATE_KAFKA_FETCH_WAIT] [default: 500ms]")
    var kafkaFetchWait: String?

    static let fetchWaitSetting = Setting(
        "kafka-fetch-wait", default: "500ms",
        help: "Longest a broker holds a fetch that finds no records (fetch.wait.max.ms). Real brokers answer as soon as records arrive; the dev cluster's mock brokers wait it out, so use 10ms there.")
    static let settings = [fetchWaitSetting]

    var flags: [String: String?] { ["kafka-fetch-wait": kafkaFetchWait] }

    /// librdkafka properties for every consumer of the stage: `fetch.wait.max.ms` (see
    /// `DevKafkaCluster.consumerProperties`).
    func consumerProperties(_ resolver: ConfigurationResolver) throws -> [String: String] {
        let wait = try resolver.required(Self.fetchWaitSetting, expected: "a duration from 1ms to 10s, such as 10ms or 500ms") {
            ValueParsers.duration($0).flatMap { (.milliseconds(1) ... .seconds(10)).contains($0) ? $0 : nil }
        }
        let (seconds, attoseconds) = wait.components
        return ["fetch.wait.max.ms": String(seconds * 1_000 + attoseconds / 1_000_000_000_000_000)]
    }
}
