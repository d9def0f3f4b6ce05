import Telemetry

/// How the ingress subscribes and what it does with what it receives.
public struct IngressConfiguration: Sendable {
    /// The Kafka topic names (prefix `fluxgate.` by default).
    public var topics = FluxgateTopics()

    /// The shared-subscription group several ingress instances join to split the device
    /// stream (`$share/{group}/devices/+/telemetry`); `nil` subscribes without sharing, so that
    /// every instance would receive every message.
    ///
    /// With mosquitto 2.0.x, a member that dies keeps its share of unacknowledged and queued
    /// messages in its session until it reconnects with the same client id or the session
    /// expires: give every instance a stable, unique MQTT client id.
    public var sharedSubscriptionGroup: String? = "fluxgate-ingress"

    /// Payload limits and validation for readings.
    public var limits = ReadingLimits.standard

    /// At most this many bytes of a rejected payload are kept in its dead letter.
    public var maxDeadLetterBytes = 512 * 1024

    /// How many batches may wait for Kafka's confirmation at once (each is acknowledged to the
    /// broker when its own records are confirmed). Overlapping them keeps the stage busy while
    /// Kafka confirms; memory stays bounded by the MQTT client's `bufferLimit` (messages held,
    /// batched or not), so this only needs to be large enough never to be the limit: a batch
    /// held back here still holds the MQTT client's writes, only later. Default 64.
    public var maxBatchesInFlight = 64

    /// First and longest pause between attempts to produce records Kafka refused.
    public var retryBackoff: (minimum: Duration, maximum: Duration) = (.milliseconds(100), .seconds(5))

    public init() {}

    /// The MQTT subscription filters for telemetry and status, shared when so configured.
    public var subscriptionFilters: [String] {
        TelemetryTopic.subscriptionFilters.map { filter in
            sharedSubscriptionGroup.map { "$share/\($0)/\(filter)" } ?? filter
        }
    }
}
