// `LoadHarness kafka`: producer and consumer throughput of the Kafka module against kcat, on the
// same in-process dev cluster, in the same run. Prints records/s and the ratio to kcat.
import Foundation
import Kafka
import Logging

enum KafkaBenchmark {
    struct Options {
        var records = 1_000_000
        var size = 200
        var partitions = 64
        var brokers = 1
        var batch = 10_000
        var inFlightBatches = 8
        var buffer = 10_000
        /// Distinct record keys (`device-NNNNN`, in turn); 0 sends keyless records. Both sides
        /// leave the partition to librdkafka's default partitioner, as `kcat -P` does: keyless
        /// records go to a sticky partition, keyed ones by key hash.
        var keys = 0
        /// Only the producer phase (for profiling).
        var produceOnly = false
        /// The fluxgate side sends explicit round-robin partitions (this harness's former mode).
        /// kcat cannot, so this is for comparing versions of the library, not against kcat: every
        /// linger's records spread over all partitions, which costs librdkafka and the dev cluster
        /// far more than kcat's sticky partition.
        var roundRobin = false
        /// `fetch.wait.max.ms` for both consumers (fluxgate and kcat); 0 keeps librdkafka's
        /// default (500 ms).
        var fetchWait = 0
        /// Every record carries the header `fluxgate-received-at: 1764400000000`, as the
        /// ingress's readings do (kcat: `-H`).
        var withHeader = false
        /// Skip the kcat runs (for profiling).
        var withKcat = true
        /// Measurement rounds; the order of fluxgate and kcat alternates between rounds and the
        /// table reports medians, so neither side always meets a warmer cluster.
        var rounds = 3

        init(_ arguments: [String]) {
            var iterator = arguments.makeIterator()
            while let flag = iterator.next() {
                let value = iterator.next().flatMap(Int.init) ?? 0
                switch flag {
                case "--records": records = value
                case "--size": size = value
                case "--partitions": partitions = value
                case "--brokers": brokers = value
                case "--batch": batch = value
                case "--in-flight": inFlightBatches = value
                case "--buffer": buffer = value
                case "--keys": keys = max(0, value)
                case "--produce-only": produceOnly = value != 0
                case "--round-robin": roundRobin = value != 0
                case "--fetch-wait": fetchWait = max(0, value)
                case "--header": withHeader = value != 0
                case "--kcat": withKcat = value != 0
                case "--rounds": rounds = max(1, value)
                default:
                    FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
                    exit(2)
                }
            }
        }
    }

    /// Runs the benchmark and exits the process.
    static func run(arguments: [String]) async -> Never {
        do {
            try await measure(Options(arguments))
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("kafka benchmark failed: \(error)\n".utf8))
            exit(1)
        }
    }

    /// One round's wall-clock seconds and CPU seconds for each side.
    struct Round {
        var fluxgateProduce = 0.0, kcatProduce = Double.nan, fluxgateConsume = 0.0, kcatConsume = Double.nan
        var fluxgateProduceCPU = 0.0, kcatProduceCPU = Double.nan, fluxgateConsumeCPU = 0.0, kcatConsumeCPU = Double.nan
        var fluxgateBatchConsume = 0.0, fluxgateBatchConsumeCPU = 0.0
        var consumed = 0
    }

    static func measure(_ options: Options) async throws {
        var logger = Logger(label: "kafka-bench") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .error
        let cluster = try DevKafkaCluster(brokerCount: options.brokers, logger: logger)
        defer { cluster.shutdown() }
        say("Kafka load harness: \(options.records) records of \(options.size) bytes, \(options.keys == 0 ? "no keys" : "\(options.keys) keys"), \(options.withHeader ? "1 header, " : "")\(options.roundRobin ? "fluxgate round-robin partitions (not like kcat), " : "")\(options.partitions) partitions, \(options.brokers) broker(s), \(options.rounds) round(s), dev cluster \(cluster.bootstrapServers)")
        let kcatInput = options.withKcat ? try writeKcatInput(options) : ""
        defer { if options.withKcat { try? FileManager.default.removeItem(atPath: kcatInput) } }
        let admin = try KafkaAdmin(bootstrapServers: cluster.bootstrapServerList, logger: logger)

        var rounds: [Round] = []
        for index in 0..<options.rounds {
            let fluxgateTopic = "bench-fluxgate-\(index)"
            let kcatTopic = "bench-kcat-\(index)"
            for topic in [fluxgateTopic, kcatTopic] {
                try cluster.createTopic(topic, partitions: options.partitions, replicationFactor: 1)
            }
            let fluxgateFirst = index % 2 == 0
            var round = Round()
            var cpu = CPUClock()
            for side in fluxgateFirst ? [true, false] : [false, true] {
                _ = cpu.lap()
                if side {
                    round.fluxgateProduce = try await produceWithFluxgate(cluster, options, topic: fluxgateTopic, logger: logger)
                    round.fluxgateProduceCPU = cpu.lap()
                } else if options.withKcat {
                    round.kcatProduce = try produceWithKcat(cluster, options, inputPath: kcatInput, topic: kcatTopic)
                    round.kcatProduceCPU = cpu.lap()
                }
            }
            var held: Int64 = 0
            for partition in 0..<options.partitions {
                let marks = try await admin.watermarks(topic: fluxgateTopic, partition: partition)
                held += marks.high - marks.low
            }
            round.consumed = Int(held)
            if options.produceOnly {
                say(String(format: "  round %d (%@ first): produce %.3f s (CPU %.2f s) vs kcat %.3f s (CPU %.2f s)",
                           index + 1, fluxgateFirst ? "fluxgate" : "kcat", round.fluxgateProduce, round.fluxgateProduceCPU, round.kcatProduce, round.kcatProduceCPU))
                rounds.append(round)
                continue
            }
            // Both consumers read the same topic.
            for side in fluxgateFirst ? [true, false] : [false, true] {
                _ = cpu.lap()
                if side {
                    // The two sequences take turns going first: the first consumer after the
                    // producers pays for fresh heap pages (page faults) that the second reuses.
                    for batched in fluxgateFirst ? [false, true] : [true, false] {
                        let seconds = try await consumeWithFluxgate(cluster, options, topic: fluxgateTopic, count: round.consumed, batched: batched, logger: logger)
                        if batched {
                            round.fluxgateBatchConsume = seconds
                            round.fluxgateBatchConsumeCPU = cpu.lap()
                        } else {
                            round.fluxgateConsume = seconds
                            round.fluxgateConsumeCPU = cpu.lap()
                        }
                    }
                } else if options.withKcat {
                    round.kcatConsume = try consumeWithKcat(cluster, options, topic: fluxgateTopic, count: round.consumed)
                    round.kcatConsumeCPU = cpu.lap()
                }
            }
            say(String(format: "  round %d (%@ first): produce %.3f s vs kcat %.3f s, consume %d records %.3f s (batches %.3f s) vs kcat %.3f s",
                       index + 1, fluxgateFirst ? "fluxgate" : "kcat", round.fluxgateProduce, round.kcatProduce, round.consumed, round.fluxgateConsume, round.fluxgateBatchConsume, round.kcatConsume))
            rounds.append(round)
        }

        func median(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        func median(_ key: KeyPath<Round, Double>) -> Double { median(rounds.map { $0[keyPath: key] }) }
        let consumed = rounds.map(\.consumed).min() ?? 0
        func rate(_ seconds: Double, _ records: Int) -> String {
            String(format: "%10.0f rec/s  (%6.2f s)", Double(records) / seconds, seconds)
        }
        func ratio(_ fluxgate: KeyPath<Round, Double>, _ kcat: KeyPath<Round, Double>) -> String {
            String(format: "%13.2f", median(kcat) / median(fluxgate))
        }
        say("")
        say("Medians over \(options.rounds) round(s):")
        say("| measure            | fluxgate                   | kcat                       | fluxgate/kcat |")
        say("|--------------------|----------------------------|----------------------------|---------------|")
        say("| producer records/s | \(rate(median(\.fluxgateProduce), options.records)) | \(rate(median(\.kcatProduce), options.records)) | \(ratio(\.fluxgateProduce, \.kcatProduce)) |")
        if !options.produceOnly {
            say("| consumer records/s | \(rate(median(\.fluxgateConsume), consumed)) | \(rate(median(\.kcatConsume), consumed)) | \(ratio(\.fluxgateConsume, \.kcatConsume)) |")
            say("| consumer, batches   | \(rate(median(\.fluxgateBatchConsume), consumed)) | \(rate(median(\.kcatConsume), consumed)) | \(ratio(\.fluxgateBatchConsume, \.kcatConsume)) |")
        }
        say("")
        say("CPU seconds (user+sys; both columns include the in-process dev cluster serving the client; kcat's include its own process):")
        say("| measure            | fluxgate CPU s | kcat CPU s | kcat/fluxgate (higher: fluxgate cheaper) |")
        say("|--------------------|----------------|------------|------------------------------------------|")
        say(String(format: "| producer           | %14.2f | %10.2f | %40.2f |", median(\.fluxgateProduceCPU), median(\.kcatProduceCPU), median(\.kcatProduceCPU) / median(\.fluxgateProduceCPU)))
        if !options.produceOnly {
            say(String(format: "| consumer           | %14.2f | %10.2f | %40.2f |", median(\.fluxgateConsumeCPU), median(\.kcatConsumeCPU), median(\.kcatConsumeCPU) / median(\.fluxgateConsumeCPU)))
            say(String(format: "| consumer, batches  | %14.2f | %10.2f | %40.2f |", median(\.fluxgateBatchConsumeCPU), median(\.kcatConsumeCPU), median(\.kcatConsumeCPU) / median(\.fluxgateBatchConsumeCPU)))
        }
    }

    static func produceWithFluxgate(_ cluster: DevKafkaCluster, _ options: Options, topic: String, logger: Logger) async throws -> Double {
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(bootstrapServers: cluster.bootstrapServerList),
            logger: logger
        )
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: options.size)
        // The same records kcat sends: no partition (librdkafka's default partitioner, as
        // `kcat -P`), keyless or keyed by `device-NNNNN` in turn. (Explicit round-robin partitions,
        // as measured before, spread every linger's records over all partitions and cost librdkafka
        // and the dev cluster about 1.8x the CPU of kcat's sticky partition, in C as well.)
        let headers = options.withHeader ? [KafkaHeader(key: benchmarkHeader.name, string: benchmarkHeader.value)] : []
        let records = options.roundRobin
            ? (0..<options.partitions).map { KafkaProducerRecord(topic: topic, partition: $0, value: value, headers: headers) }
            : options.keys == 0
            ? [KafkaProducerRecord(topic: topic, value: value, headers: headers)]
            : (0..<options.keys).map { KafkaProducerRecord(topic: topic, key: benchmarkKey($0), value: value, headers: headers) }
        let batches = stride(from: 0, to: options.records, by: options.batch).map { ($0, min(options.batch, options.records - $0)) }
        return try await withThrowingTaskGroup(of: Double?.self) { group in
            group.addTask {
                try await producer.run()
                return nil
            }
            let start = ContinuousClock.now
            var failures = 0
            try await withThrowingTaskGroup(of: Int.self) { senders in
                var next = 0
                func add() {
                    guard next < batches.count else { return }
                    let (first, count) = batches[next]
                    next += 1
                    senders.addTask {
                        let batch = (first..<(first + count)).map { records[$0 % records.count] }
                        let results = try await producer.send(batch: batch)
                        return results.reduce(0) { failures, result in
                            if case .failure = result { return failures + 1 }
                            return failures
                        }
                    }
                }
                for _ in 0..<options.inFlightBatches { add() }
                while let failed = try await senders.next() {
                    failures += failed
                    add()
                }
            }
            let elapsed = start.duration(to: .now)
            group.cancelAll()
            _ = try await group.next()
            if failures > 0 { throw BenchmarkError(message: "\(failures) records were not delivered") }
            return elapsed.seconds
        }
    }

    static let benchmarkHeader = (name: "fluxgate-received-at", value: "1764400000000")

    /// The key of the `index`th distinct key: `device-NNNNN`.
    static func benchmarkKey(_ index: Int) -> String {
        "device-" + String(repeating: "0", count: max(0, 5 - String(index).count)) + String(index)
    }

    /// Writes `records` lines of `size` bytes for `kcat -P` (with `--keys`: `key:value` lines for
    /// `kcat -K :`, the same keys in the same order as the fluxgate side).
    static func writeKcatInput(_ options: Options) throws -> String {
        let path = NSTemporaryDirectory() + "fluxgate-kafka-bench-\(getpid()).txt"
        var line = [UInt8](repeating: UInt8(ascii: "x"), count: options.size)
        line.append(UInt8(ascii: "\n"))
        var data = Data(capacity: (line.count + 13) * options.records)
        for index in 0..<options.records {
            if options.keys > 0 {
                data.append(contentsOf: Array(benchmarkKey(index % options.keys).utf8))
                data.append(UInt8(ascii: ":"))
            }
            data.append(contentsOf: line)
        }
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func produceWithKcat(_ cluster: DevKafkaCluster, _ options: Options, inputPath: String, topic: String) throws -> Double {
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
        defer { try? input.close() }
        return try timeKcat(
            ["-P", "-b", cluster.bootstrapServers, "-t", topic, "-X", "enable.idempotence=true", "-X", "acks=all"]
                + (options.keys > 0 ? ["-K", ":"] : [])
                + (options.withHeader ? ["-H", "\(benchmarkHeader.name)=\(benchmarkHeader.value)"] : []),
            input: input
        )
    }

    static func consumeWithFluxgate(_ cluster: DevKafkaCluster, _ options: Options, topic: String, count expected: Int, batched: Bool, logger: Logger) async throws -> Double {
        var assignment: [KafkaTopicPartition: KafkaOffset] = [:]
        for partition in 0..<options.partitions {
            assignment[KafkaTopicPartition(topic: topic, partition: partition)] = .beginning
        }
        var configuration = KafkaConsumerConfiguration(
            bootstrapServers: cluster.bootstrapServerList,
            consumptionStrategy: .partitions(assignment)
        )
        configuration.maxBufferedRecords = options.buffer
        if options.fetchWait > 0 {
            configuration.additionalProperties["fetch.wait.max.ms"] = String(options.fetchWait)
        }
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Double?.self) { group in
            let start = ContinuousClock.now
            group.addTask {
                try await consumer.run()
                return nil
            }
            var count = 0
            var bytes = 0
            var firstRecordAt: ContinuousClock.Instant?
            if batched {
                for await batch in consumer.batches {
                    if count == 0 { firstRecordAt = .now }
                    batch.forEach { bytes &+= $0.value.count }
                    count += batch.count
                    if count >= expected { break }
                }
            } else {
                for await record in consumer.records {
                    if count == 0 { firstRecordAt = .now }
                    count += 1
                    bytes &+= record.value.count
                    if count == expected { break }
                }
            }
            let elapsed = start.duration(to: .now)
            if let firstRecordAt {
                say("  fluxgate consumer (\(batched ? "batches" : "records")): first record after \(start.duration(to: firstRecordAt)), total \(elapsed)")
            }
            _ = try await group.next()
            if count != expected { throw BenchmarkError(message: "consumed \(count) of \(expected) records") }
            return elapsed.seconds
        }
    }

    static func consumeWithKcat(_ cluster: DevKafkaCluster, _ options: Options, topic: String, count: Int) throws -> Double {
        try timeKcat(
            ["-C", "-b", cluster.bootstrapServers, "-t", topic, "-o", "beginning", "-e", "-q", "-c", String(count)]
                + (options.fetchWait > 0 ? ["-X", "fetch.wait.max.ms=\(options.fetchWait)"] : []),
            input: nil
        )
    }

    static func timeKcat(_ arguments: [String], input: FileHandle?) throws -> Double {
        let kcat = Process()
        kcat.executableURL = URL(fileURLWithPath: "/usr/bin/kcat")
        kcat.arguments = arguments
        if let input { kcat.standardInput = input }
        kcat.standardOutput = FileHandle.nullDevice
        let start = ContinuousClock.now
        try kcat.run()
        kcat.waitUntilExit()
        let elapsed = start.duration(to: .now)
        guard kcat.terminationStatus == 0 else {
            throw BenchmarkError(message: "kcat \(arguments.joined(separator: " ")) exited with \(kcat.terminationStatus)")
        }
        return elapsed.seconds
    }

    struct BenchmarkError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// CPU time (user + system) of this process and its waited-for children, in laps.
struct CPUClock {
    private var last = CPUClock.now()

    static func now() -> Double {
        func seconds(_ who: Int32) -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(who), &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        return seconds(RUSAGE_SELF.rawValue) + seconds(RUSAGE_CHILDREN.rawValue)
    }

    /// CPU seconds since the previous lap.
    mutating func lap() -> Double {
        let now = CPUClock.now()
        defer { last = now }
        return now - last
    }
}

/// Prints a line unbuffered, so partial results survive an interrupted run.
private func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
