import FluxgateTesting
import Foundation
@testable import Kafka
import Testing

/// The dev cluster answers promptly: its brokers' connections have Nagle's algorithm off, as a
/// real broker's do (without it, a multi-partition produce waited ~40 ms for a delayed ACK).
@Suite("Dev cluster sockets", .timeLimit(.minutes(1)))
struct DevKafkaClusterSocketTests {
    let logger = makeTestLogger("kafka-dev-cluster-socket-test")

    @Test("Connections the mock brokers accept have TCP_NODELAY")
    func acceptedConnectionsHaveNoDelay() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 3, logger: logger)
        defer { cluster.shutdown() }
        try cluster.createTopic("nodelay", partitions: 6)
        let ports = MockBrokerSockets.ports(of: cluster.bootstrapServers)
        #expect(ports.count == 3)

        let producer = try makeProducer(cluster, logger: logger)
        try await whileRunning(producer) {
            _ = try await producer.send(batch: numberedRecords(topic: "nodelay", prefix: "a", range: 0..<30)).map { try $0.get() }
            let accepted = MockBrokerSockets.acceptedSockets(at: ports)
            #expect(accepted.count >= 1, "the producer holds connections to the brokers")
            #expect(accepted.allNoDelay)
        }
    }
}
