/// Where the simulator's publications go: the seam for the MQTT publisher.
///
/// ``SimulatorService`` hands batches in due order. An implementation publishes them (for MQTT:
/// `topic`, `payload`, `qos`, `retain`) and returns once they are sent; throwing counts the batch
/// as an error in ``SimulatorProgress`` and the run goes on.
public protocol PublicationSink: Sendable {
    /// Publishes one batch, in order.
    func publish(_ batch: [Publication]) async throws
}

/// A sink that keeps everything in memory (tests, dry runs).
public actor RecordingSink: PublicationSink {
    /// Everything published so far, in order.
    public private(set) var publications: [Publication] = []
    /// The batches as received (sizes).
    public private(set) var batchSizes: [Int] = []

    /// Creates an empty sink.
    public init() {}

    /// Appends the batch.
    public func publish(_ batch: [Publication]) async throws {
        publications.append(contentsOf: batch)
        batchSizes.append(batch.count)
    }
}
