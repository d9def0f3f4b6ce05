import Kafka
import Logging
import Metrics
import MQTT
import ServiceLifecycle
import Synchronization
import Telemetry

/// The ingress stage: MQTT in, Kafka out, nothing acknowledged to the broker before Kafka has it.
///
/// It subscribes at QoS 1 (through a shared subscription, so several instances split the
/// devices) and takes the stream from the MQTT client in batches. Each batch is decoded and
/// validated, produced to Kafka in one pipelined call (readings, status changes, dead letters),
/// and acknowledged to the broker only when Kafka has confirmed every record of it. Records Kafka
/// refuses are produced again with backoff: while Kafka is slow or down the ingress stops
/// acknowledging, the MQTT client stops reading (its buffer is bounded), the broker queues, and
/// memory stays bounded. A crash loses nothing: unacknowledged messages come again from the
/// persistent session. Duplicates are possible (the broker may redeliver) and downstream
/// stages tolerate them.
///
/// Run it in a `ServiceGroup` after the Kafka producer; it runs the MQTT client itself (see
/// ``run()``), so that on graceful shutdown it drains first and the producer flushes last.
public final class IngressService: Service, Sendable {
    private let configuration: IngressConfiguration
    private let mqtt: MQTTClient
    private let producer: KafkaProducer
    private let routing: IngressRouting
    private let logger: Logger
    private let metrics = IngressMetrics()
    private let onReady: @Sendable () -> Void
    private let forwardedCount = Atomic<Int>(0)
    private let inFlightCount = Atomic<Int>(0)

    /// MQTT messages this instance has forwarded to Kafka and acknowledged so far.
    public var forwarded: Int { forwardedCount.load(ordering: .relaxed) }

    /// - Parameters:
    ///   - mqtt: a client that is not running yet (the ingress runs it), with deferred
    ///     acknowledgement, a stable client id, clean start off and a session expiry long enough
    ///     to outlive a restart.
    ///   - producer: an idempotent producer (the default configuration).
    ///   - onReady: called once the subscriptions are in place.
    public init(
        configuration: IngressConfiguration,
        mqtt: MQTTClient,
        producer: KafkaProducer,
        logger: Logger,
        onReady: @escaping @Sendable () -> Void = {}
    ) {
        self.configuration = configuration
        self.mqtt = mqtt
        self.producer = producer
        self.routing = IngressRouting(
            topics: configuration.topics,
            limits: configuration.limits,
            maxDeadLetterBytes: configuration.maxDeadLetterBytes
        )
        self.logger = logger
        self.onReady = onReady
    }

    /// Runs the MQTT client, subscribes, and forwards batches until graceful shutdown.
    ///
    /// The ingress owns the client's run: on graceful shutdown both hear it at once; the client
    /// stops reading and ends `messages` after the batches it has already read, the ingress
    /// forwards and acknowledges them all (draining what is in flight), and the client writes the
    /// last acknowledgements before it disconnects. The producer, a separate service started
    /// before the ingress, stops after it and flushes.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [mqtt] in try await mqtt.run() }
            // Subscribe while already forwarding: a resumed session delivers its queued messages
            // right after connecting, and with deferred acknowledgement nothing (not even the
            // SUBSCRIBE) is written until they are acknowledged. All filters at once, so they
            // leave in one write: on a resumed session each SUBACK comes behind the queued
            // messages, and one filter after the other left the second waiting for the first
            // SUBACK (seen as 1-10 s in the benchmark).
            group.addTask { [mqtt, configuration, logger, onReady] in
                do {
                    try await withThrowingTaskGroup(of: (String, MQTTQoS).self) { subscriptions in
                        for filter in configuration.subscriptionFilters {
                            subscriptions.addTask { (filter, try await mqtt.subscribe(filter, qos: .atLeastOnce)) }
                        }
                        for try await (filter, granted) in subscriptions {
                            logger.info("subscribed", metadata: ["filter": "\(filter)", "qos": "\(granted.rawValue)"])
                        }
                    }
                    onReady()
                } catch let error as MQTTError where error.code == .shutDown || error.code == .cancelled {
                    // Stopped before the subscriptions were in place: nothing to report.
                }
            }
            try await forwardPipelined(mqtt.messages)
            // The stream ends when the client stops: rethrow its error, if any.
            try await group.waitForAll()
        }
        logger.info("ingress stopped")
    }

    /// Forwards batches with up to `maxBatchesInFlight` of them waiting for Kafka at once, so that
    /// reading and decoding the next batch overlaps the previous one's confirmation. Each batch
    /// is still acknowledged only once all of its own records are confirmed.
    private func forwardPipelined(_ batches: MQTTMessages) async throws {
        try await withThrowingTaskGroup(of: Void.self) { pipeline in
            var inFlight = 0
            for await batch in batches {
                if inFlight >= configuration.maxBatchesInFlight {
                    try await pipeline.next()
                    inFlight -= 1
                }
                pipeline.addTask { try await self.forward(batch) }
                inFlight += 1
            }
            try await pipeline.waitForAll()
        }
    }

    /// Produces every message of `batch` to Kafka, retrying refused records, then acknowledges it.
    private func forward(_ batch: MQTTMessageBatch) async throws {
        // Received when the MQTT client read the batch (it may have waited in its buffer since).
        let receivedAt = WallClock.nowMilliseconds() - Self.nanoseconds(ContinuousClock.now - batch.receivedAt) / 1_000_000
        let receivedHeaders = IngressRouting.receivedHeaders(receivedAt)
        metrics.received.increment(by: Int64(batch.count))
        metrics.inFlight.record(inFlightCount.add(batch.count, ordering: .relaxed).newValue)

        var records: [KafkaProducerRecord] = []
        var outcomes: [IngressRouting.Outcome] = []
        records.reserveCapacity(batch.count)
        outcomes.reserveCapacity(batch.count)
        for message in batch {
            let (record, outcome) = routing.route(
                topic: message.topic, payload: message.payload, receivedAt: receivedAt, receivedHeaders: receivedHeaders)
            records.append(record)
            outcomes.append(outcome)
        }

        var pending = Array(records.indices)
        var backoff = configuration.retryBackoff.minimum
        while !pending.isEmpty {
            let results = try await producer.send(batch: pending.count == records.count ? records : pending.map { records[$0] })
            var refused: [Int] = []
            var lastError: KafkaError?
            var confirmed = IngressMetrics.Tally()
            for (index, result) in zip(pending, results) {
                switch result {
                case .success:
                    confirmed.add(outcomes[index])
                case .failure(let error):
                    refused.append(index)
                    lastError = error
                }
            }
            metrics.produced(confirmed)
            pending = refused
            if let lastError {
                if lastError.code == .shutDown { throw lastError }
                metrics.retries.increment(by: Int64(refused.count))
                logger.warning(
                    "Kafka refused records; producing them again",
                    metadata: ["count": "\(refused.count)", "error": "\(lastError)", "backoff": "\(backoff)"]
                )
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, configuration.retryBackoff.maximum)
            }
        }

        batch.acknowledge()
        forwardedCount.add(batch.count, ordering: .relaxed)
        metrics.inFlight.record(inFlightCount.subtract(batch.count, ordering: .relaxed).newValue)
        metrics.ackLatency.recordNanoseconds(Self.nanoseconds(ContinuousClock.now - batch.receivedAt))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
