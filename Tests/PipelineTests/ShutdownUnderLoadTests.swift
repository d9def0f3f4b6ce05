import Foundation
import FluxgateTesting
import Kafka
import Telemetry
import Testing

/// Issue #7: SIGTERM during load stops every stage within 10 s with no reading lost, checked
/// against Kafka after the restart. A `mosquitto_sub` witness records every reading the broker
/// accepted from the simulated fleet; afterwards each of them must be in `<prefix>readings`
/// (duplicates are allowed by design, and counted).
@Suite("Pipeline: SIGTERM under load", .serialized, .timeLimit(.minutes(5)))
struct ShutdownUnderLoadTests {
    /// 20 meters at 10 readings/s each (200/s), QoS 1 (a QoS 0 reading may be dropped by design
    /// while no ingress is connected).
    static let fleetYAML = """
        description: PipelineTests steady load
        seed: 3
        types:
          - name: meter
            count: 20
            id: "load-{n:02}"
            rate: 10
            qos: 1
            metrics:
              - name: power
                baseline: 100
                noise: 5
        """

    struct ReadingID: Hashable { var device: String; var seq: Int }

    @Test func everyStageStopsWithinTenSecondsAndNoReadingIsLost() async throws {
        let fleetPath = try temporaryFile("load.yaml", Self.fleetYAML)
        defer { try? FileManager.default.removeItem(atPath: fleetPath) }
        try await withPipeline { pipeline in
            // The witness: a plain subscriber that sees every reading the broker accepted.
            let witness = try ChildProcess.spawn(
                "/usr/bin/mosquitto_sub",
                arguments: ["-h", pipeline.broker.host, "-p", String(pipeline.broker.port), "-q", "1", "-v", "-t", "devices/+/telemetry"])
            defer { witness.kill() }
            try await waitUntil(30, "the witness subscribed") {
                try await mosquittoPublish(
                    pipeline, topic: "devices/witness-probe/telemetry",
                    payload: telemetryPayload(ts: WallClock.nowMilliseconds(), seq: 0, metrics: ["power": 1]))
                return witness.outputLines.contains { $0.hasPrefix("devices/witness-probe/") }
            }

            let reader = try TopicReader(pipeline, ["readings"])
            try await whileRunning([reader], logger: testLogger) {
                let simulate = try pipeline.fluxgate([
                    "simulate", "--fleet", fleetPath, "--duration", "40s", "--mqtt-url", pipeline.broker.url,
                    "--mqtt-client-id", "pipeline-load-simulate", "--log-level", "warning",
                ])
                defer { simulate.kill() }
                let readings = pipeline.topic("readings")
                try await waitUntil(60, "1000 readings flowing through the pipeline") {
                    guard simulate.isRunning else { throw TestTimeout(what: "simulate ended early: \(simulate.errorLines.suffix(3))") }
                    return reader.records(readings).count >= 1000
                }

                // SIGTERM every stage at once, while the fleet keeps publishing.
                async let ingress = pipeline.terminate(.ingress)
                async let windowing = pipeline.terminate(.windowing)
                async let hub = pipeline.terminate(.hub)
                let exits: [(Pipeline.Stage, Pipeline.StageExit)] = [
                    (.ingress, try await ingress), (.windowing, try await windowing), (.hub, try await hub),
                ]
                for (stage, exit) in exits {
                    print("SIGTERM under load: \(stage) exited with \(exit)")
                    #expect(exit.status == 0, "\(stage): \(exit); log:\n\(pipeline.logTail(stage))")
                    #expect(exit.duration < .seconds(10), "\(stage) took \(exit.duration) to stop")
                }
                #expect(simulate.isRunning, "the load must still run while the stages restart")

                // The broker queues the fleet's readings for the ingress's persistent session while
                // it is away: restart it once at least 1000 more readings were published, while
                // the fleet goes on publishing.
                let publishedWhileDown = witness.outputLines.count
                try await waitUntil(60, "1000 readings queued for the stopped ingress") {
                    witness.outputLines.count >= publishedWhileDown + 1000
                }
                let restarted = ContinuousClock.now
                try await pipeline.start(.ingress)
                print("SIGTERM under load: ingress ready \(ContinuousClock.now - restarted) after its restart with \(witness.outputLines.count - publishedWhileDown)+ readings queued")
                #expect(simulate.isRunning, "the fleet still publishes while the ingress catches up")
                // The windowing stage is ready once it has partitions again: on the dev cluster a
                // new member waits out the stopped member's session (45 s) even after it left.
                for stage in [Pipeline.Stage.hub, .windowing] {
                    let starting = ContinuousClock.now
                    try await pipeline.start(stage)
                    print("SIGTERM under load: \(stage) ready \(ContinuousClock.now - starting) after its restart")
                }

                let status = try await simulate.waitForExit(timeout: .seconds(120))
                try await Task.sleep(for: .milliseconds(200))
                #expect(status == 0, "simulate: \(simulate.errorLines.suffix(5))")
                let counters = try #require(simulateCounters(simulate))
                #expect(counters.errors == 0)

                // Every witnessed reading of the fleet, then every one of them in Kafka.
                func witnessed() -> Set<ReadingID> {
                    Set(witness.outputLines.compactMap { line -> ReadingID? in
                        let parts = line.split(separator: " ", maxSplits: 1)
                        guard parts.count == 2, parts[0].hasPrefix("devices/load-"),
                            let object = try? JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any],
                            let seq = object["seq"] as? Int
                        else { return nil }
                        return ReadingID(device: String(parts[0].split(separator: "/")[1]), seq: seq)
                    })
                }
                try await waitUntil(30, "the witness has all \(counters.readings) readings (has \(witnessed().count))") {
                    witnessed().count >= counters.readings
                }
                let published = witnessed()
                #expect(published.count == counters.readings)
                func landed() -> [ReadingID] {
                    reader.records(readings).compactMap(LandedReading.init)
                        .filter { $0.device.hasPrefix("load-") }
                        .map { ReadingID(device: $0.device, seq: $0.reading.seq.map { Int($0) } ?? -1) }
                }
                try await waitUntil(120, "every published reading in Kafka; missing \(published.subtracting(landed()).count)") {
                    published.isSubset(of: landed())
                }
                let all = landed()
                let distinct = Set(all)
                #expect(distinct == published, "nothing in Kafka that the fleet did not publish")
                print("SIGTERM under load: \(published.count) readings published, \(all.count) records in Kafka, \(all.count - distinct.count) duplicates")
            }
        }
    }
}
