// A subscriber process for MQTTTests: the deferred-acknowledgement test SIGKILLs it and starts it
// again with the same client id.
//
//   mqtt-test-subscriber --port P --client-id ID --topic FILTER [--protocol 5|3]
//       [--session-expiry SECONDS] [--ack-prefix PREFIX] [--confirm-after N] [--will-topic T]
//       [--read-ahead-ms MS]
//
// Prints `READY` once subscribed, `MSG <payload>` per message, `ACKED <n>` after acknowledging a
// batch of n messages, `CONFIRMED` once a QoS 1 publication completed
// (to `fluxgate-test-confirm/<client id>`)
// after at least N acknowledged messages: that publication leaves after the acknowledgements
// (same write, in order), so its PUBACK proves the broker has them.
// A batch is acknowledged only if every payload starts with PREFIX (default: every batch).
import Foundation
import Logging
import MQTT
import ServiceLifecycle
import UnixSignals

struct Options {
    var port = 1883
    var clientID = "mqtt-test-subscriber"
    var topic = "test/#"
    var protocolVersion = MQTTConfiguration.ProtocolVersion.v5
    var sessionExpiry = 300
    var ackPrefix: String?
    var confirmAfter: Int?
    var willTopic: String?
    var readAheadMilliseconds: Int?

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let name = iterator.next() {
            let value = iterator.next() ?? ""
            switch name {
            case "--port": port = Int(value) ?? port
            case "--client-id": clientID = value
            case "--topic": topic = value
            case "--protocol": protocolVersion = value == "3" ? .v311 : .v5
            case "--session-expiry": sessionExpiry = Int(value) ?? sessionExpiry
            case "--ack-prefix": ackPrefix = value
            case "--confirm-after": confirmAfter = Int(value)
            case "--will-topic": willTopic = value
            case "--read-ahead-ms": readAheadMilliseconds = Int(value)
            default: FileHandle.standardError.write(Data("unknown option \(name)\n".utf8))
            }
        }
    }
}

/// Writes one line to standard output, unbuffered (the test reads it through a pipe).
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

struct Consumer: Service {
    let client: MQTTClient
    let options: Options

    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The configured subscription is made on connect; this second SUBACK tells when it is
            // active. It may never come while a redelivered batch is unacknowledged (writes are
            // held), so it runs beside the consumer.
            group.addTask {
                try await client.subscribe(options.topic, qos: .atLeastOnce)
                emit("READY")
            }
            try await consume()
            group.cancelAll()
        }
    }

    func consume() async throws {
        var acknowledged = 0
        var confirmed = false
        let confirmTopic = "fluxgate-test-confirm/\(options.clientID)"  // outside the subscription
        for await batch in client.messages.cancelOnGracefulShutdown() {
            for message in batch { emit("MSG \(message.payloadString)") }
            if let prefix = options.ackPrefix, !batch.allSatisfy({ $0.payloadString.hasPrefix(prefix) }) {
                continue
            }
            batch.acknowledge()
            acknowledged += batch.count
            emit("ACKED \(batch.count)")
            if let threshold = options.confirmAfter, !confirmed, acknowledged >= threshold {
                try await client.publish(topic: confirmTopic, payload: "confirm", qos: .atLeastOnce)
                confirmed = true
                emit("CONFIRMED")
            }
        }
    }
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
var logger = Logger(label: "mqtt-test-subscriber")
logger.logLevel = .info
var configuration = MQTTConfiguration(host: "127.0.0.1", port: options.port, clientID: options.clientID)
configuration.protocolVersion = options.protocolVersion
configuration.cleanStart = false
if options.protocolVersion == .v5 { configuration.sessionExpiry = .seconds(options.sessionExpiry) }
configuration.keepAlive = .seconds(10)
configuration.subscriptions = [.init(options.topic, qos: .atLeastOnce)]
if let milliseconds = options.readAheadMilliseconds { configuration.maxReadAhead = .milliseconds(milliseconds) }
if let willTopic = options.willTopic {
    configuration.will = .init(topic: willTopic, payload: Array("offline".utf8), qos: .atLeastOnce, retain: true)
}
let client = try MQTTClient(configuration: configuration, logger: logger)
let group = ServiceGroup(
    configuration: ServiceGroupConfiguration(
        services: [
            .init(service: client),
            .init(service: Consumer(client: client, options: options), successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    )
)
try await group.run()
