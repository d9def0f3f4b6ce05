import FluxgateTesting
import Foundation
import Kafka
import NIOConcurrencyHelpers
import Testing

/// A broker going down must never overlap a child process being started: the child's copy of the
/// broker's listening socket would make the mock's rebind fail, and the mock aborts the process.
@Suite("Dev cluster and child processes", .timeLimit(.minutes(1)))
struct DevKafkaClusterChildProcessTests {
    let logger = makeTestLogger("kafka-dev-cluster-spawn-test")

    @Test("A broker going down waits for a child process being started")
    func brokerDownWaitsForSpawn() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        let wentDown = NIOLockedValueBox(false)
        let stillUpAfterWait = DevKafkaCluster.spawningChildProcess {
            Thread.detachNewThread {
                try? cluster.setBrokerDown(1)
                wentDown.withLockedValue { $0 = true }
            }
            Thread.sleep(forTimeInterval: 0.3)
            return !wentDown.withLockedValue({ $0 })
        }
        #expect(stillUpAfterWait, "the broker went down while a child process was being started")
        let deadline = ContinuousClock.now + .seconds(10)
        while !wentDown.withLockedValue({ $0 }), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(wentDown.withLockedValue({ $0 }), "the broker went down once the spawn was over")
    }

    /// Without the gate, this aborted the test process in 3 of 3 runs.
    @Test("Brokers go down and up while child processes start, and the process survives")
    func brokerFaultsDuringSpawns() async throws {
        let cluster = try DevKafkaCluster(brokerCount: 1, logger: logger)
        defer { cluster.shutdown() }
        let spawnsDone = NIOLockedValueBox(false)
        let cycles = NIOLockedValueBox(0)
        let faults = Thread {
            let deadline = Date().addingTimeInterval(20)
            while !spawnsDone.withLockedValue({ $0 }), Date() < deadline {
                do {
                    // The pauses keep clear of a lost wake-up in the mock: a call made right
                    // after the previous one returned can wait a second for it.
                    try cluster.setBrokerDown(1)
                    Thread.sleep(forTimeInterval: 0.002)
                    try cluster.setBrokerUp(1)
                    Thread.sleep(forTimeInterval: 0.002)
                    cycles.withLockedValue { $0 += 1 }
                } catch {
                    break
                }
            }
        }
        faults.start()
        var children: [ChildProcess] = []
        for _ in 0..<300 {
            children.append(try ChildProcess.spawn("/bin/true", arguments: [], output: .discard))
            try await Task.sleep(for: .milliseconds(1))  // lets the fault thread take the gate
        }
        spawnsDone.withLockedValue { $0 = true }
        for child in children {
            #expect(try await child.waitForExit(timeout: .seconds(10)) == 0)
        }
        while !faults.isFinished { try await Task.sleep(for: .milliseconds(10)) }
        #expect(cycles.withLockedValue({ $0 }) >= 50, "brokers went down and up while children started")

        // The broker still serves after all that.
        try cluster.createTopic("after-spawns", partitions: 1)
        let producer = try makeProducer(cluster, logger: logger)
        try await whileRunning(producer) {
            let results = try await producer.send(batch: numberedRecords(topic: "after-spawns", prefix: "a", range: 0..<10))
            #expect(results.allSatisfy { (try? $0.get()) != nil })
        }
    }
}

