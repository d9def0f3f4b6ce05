import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// An MQTT 3.1.1 / 5 client over libmosquitto, as a ServiceLifecycle `Service`.
///
///     let client = try MQTTClient(configuration: MQTTConfiguration(url: "mqtt://127.0.0.1:1883"))
///     // run it in a ServiceGroup (or `try await client.run()` in a task)
///     _ = try await client.subscribe("devices/+/telemetry", qos: .atLeastOnce)
///     for await batch in client.messages {
///         try await store(batch.messages)      // e.g. in Kafka
///         batch.acknowledge()                  // now the broker gets the PUBACKs
///     }
///
/// `run()` owns the network thread: it connects, reconnects with backoff, and on graceful
/// shutdown waits (up to `shutdownGracePeriod`) for the application to acknowledge what it was
/// given, then disconnects cleanly. Requests (`subscribe`, `publish`) made before the connection
/// is up wait for it. With deferred acknowledgement nothing is written while delivered messages
/// are unacknowledged, so a publication from the consuming task must not be awaited before that
/// task acknowledges its batch.
public final class MQTTClient: Service, Sendable {
    /// The validated configuration.
    public let configuration: MQTTConfiguration
    private let core: ClientCore

    /// Validates `configuration`; nothing connects until `run()`.
    ///
    /// - Throws: `MQTTError.Code.invalidConfiguration`.
    public init(configuration: MQTTConfiguration, logger: Logger = Logger(label: "fluxgate.mqtt")) throws(MQTTError) {
        try configuration.validate()
        self.configuration = configuration
        self.core = try ClientCore(configuration: configuration, logger: logger)
    }

    /// Incoming messages in batches. One consumer at a time; the sequence ends when the client
    /// stops (after the batches already read) or when the consuming task is cancelled.
    public var messages: MQTTMessages { MQTTMessages(core: core) }

    /// Whether the client is connected (CONNACK received, connection not lost since).
    public var isConnected: Bool { core.state.withLockedValue { $0.isConnected } }

    /// Successful connections so far (1 after the first CONNACK; each reconnect adds one).
    public var connectionCount: Int { core.state.withLockedValue { $0.connections } }

    /// Runs the client until graceful shutdown or cancellation.
    ///
    /// Graceful shutdown: stop reading, end `messages` after the batches already read, wait up to
    /// `shutdownGracePeriod` for their acknowledgement, write, DISCONNECT. Cancellation: the same
    /// without waiting — unacknowledged messages stay unacknowledged (redelivered later).
    ///
    /// - Throws: `MQTTError` `connectionRefused` when the broker refuses the credentials, client id
    ///   or protocol version; `alreadyRunning` when called twice.
    public func run() async throws {
        guard core.state.withLockedValue({ $0.start() }) else {
            throw MQTTError(code: .alreadyRunning, message: "MQTTClient.run() was called before; a client runs once")
        }
        let core = self.core
        let grace = configuration.shutdownGracePeriod
        let loop = MosquittoLoop(core: core)
        let result: MQTTError? = await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<MQTTError?, Never>) in
                    let thread = Thread {
                        Thread.current.name = "fluxgate-mqtt"  // set from the thread itself: shows in top/perf
                        let error = loop.run()
                        let (consumer, waiters) = core.state.withLockedValue { $0.stopped() }
                        consumer?.resume(returning: nil)
                        for waiter in waiters { waiter.resume(returning: .failure(.shutDownError)) }
                        continuation.resume(returning: error)
                    }
                    thread.start()
                }
            } onGracefulShutdown: {
                core.beginShutdown(grace: grace)
            }
        } onCancel: {
            core.beginShutdown(grace: .zero)
        }
        if let result { throw result }
    }

    /// Begins a graceful shutdown without ServiceLifecycle (e.g. in tests); `run()` returns when done.
    public func shutdown() {
        core.beginShutdown(grace: configuration.shutdownGracePeriod)
    }

    /// Subscribes to `filter` (wildcards and shared subscriptions `$share/group/filter` allowed);
    /// returns the QoS the broker granted. Waits for the connection and the SUBACK. Subscriptions
    /// are renewed after a reconnect when the broker has no session for this client.
    ///
    /// - Throws: `MQTTError` `subscribeRejected`, `invalidArgument`, `shutDown`, `cancelled`.
    @discardableResult
    public func subscribe(_ filter: String, qos: MQTTQoS = .atLeastOnce) async throws(MQTTError) -> MQTTQoS {
        guard !filter.isEmpty else { throw MQTTError(code: .invalidArgument, message: "the subscription filter is empty") }
        switch await core.perform(.subscribe(filter: filter, qos: qos)) {
        case .success(.subscribed(let granted)): return granted
        case .success: return qos
        case .failure(let error): throw error
        }
    }

    /// Removes a subscription; waits for the UNSUBACK.
    public func unsubscribe(_ filter: String) async throws(MQTTError) {
        guard !filter.isEmpty else { throw MQTTError(code: .invalidArgument, message: "the subscription filter is empty") }
        if case .failure(let error) = await core.perform(.unsubscribe(filter: filter)) { throw error }
    }

    /// Publishes and waits: QoS 0 until written, QoS 1 until PUBACK, QoS 2 until PUBCOMP. QoS 1/2
    /// publications survive reconnects (libmosquitto sends them again).
    ///
    /// - Throws: `MQTTError` `publishRejected`, `invalidArgument` (topic with wildcards, payload too
    ///   large), `connectionLost` (QoS 0), `shutDown`, `cancelled`.
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) async throws(MQTTError) {
        guard !topic.isEmpty, !topic.contains("+"), !topic.contains("#") else {
            throw MQTTError(code: .invalidArgument, message: "topic '\(topic)' must be non-empty and contain no wildcards")
        }
        if case .failure(let error) = await core.perform(.publish(topic: topic, payload: payload, qos: qos, retain: retain)) {
            throw error
        }
    }

    /// Publishes a UTF-8 string payload.
    public func publish(topic: String, payload: String, qos: MQTTQoS = .atLeastOnce, retain: Bool = false) async throws(MQTTError) {
        try await publish(topic: topic, payload: Array(payload.utf8), qos: qos, retain: retain)
    }
}

/// The incoming batches of an `MQTTClient` (`client.messages`).
public struct MQTTMessages: AsyncSequence, Sendable {
    public typealias Element = MQTTMessageBatch
    public typealias Failure = Never

    let core: ClientCore

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ClientCore
        public mutating func next() async -> MQTTMessageBatch? { await core.nextBatch() }
    }
}
