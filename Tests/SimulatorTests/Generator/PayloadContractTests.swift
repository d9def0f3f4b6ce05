import Testing

@testable import Simulator

@Suite struct PayloadContractTests {
    @Test(arguments: ["test.yaml", "demo.yaml"])
    func everyPayloadFollowsTheContract(file: String) throws {
        let fleet = try TestSupport.loadFleet(file)
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 300_000)
        )
        let publications = generator.generateAll().publications
        let ids = Set(fleet.devices.map(\.id))
        var telemetry = 0
        var failures: [String] = []  // one expectation at the end: per-message #expect is slow in debug
        func check(_ condition: Bool, _ what: @autoclosure () -> String) {
            if !condition { failures.append(what()) }
        }
        for publication in publications {
            let id = publication.deviceID
            check(ids.contains(id) && NameRules.isValidDeviceID(id), "bad device id \(id)")
            check(publication.payload.count <= 65_536, "payload too large")
            switch publication.kind {
            case .status(let status):
                check(publication.topic == "devices/\(id)/status", publication.topic)
                check(publication.payload == Array(status.rawValue.utf8) && publication.retain, publication.textLine)
            case .telemetry(let seq, let ts):
                telemetry += 1
                check(publication.topic == "devices/\(id)/telemetry" && !publication.retain, publication.topic)
                let payload = try TestSupport.decode(publication.payload)
                check(payload.keys == ["ts", "seq", "metrics"], publication.textLine)
                check(payload.ts == ts && payload.seq == seq, publication.textLine)
                check((1...64).contains(payload.metrics.count), publication.textLine)
                for (name, value) in payload.metrics {
                    check(NameRules.isValidMetricName(name) && value.isFinite, publication.textLine)
                }
            }
        }
        #expect(failures == [])
        #expect(telemetry > 1000)
    }

    @Test func payloadBytesAreExactlyTheContractShape() {
        let bytes = PayloadEncoder.telemetry(
            ts: 1_764_400_000_000,
            seq: 17,
            metrics: ["temperature", "humidity"],
            values: [21.4, 1e-7]
        )
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"ts":1764400000000,"seq":17,"metrics":{"temperature":21.4,"humidity":1e-07}}"#
        )
    }

    @Test func valuesUseShortestRoundTripAndRespectDecimals() throws {
        let fleet = try TestSupport.loadFleet("test.yaml")
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 3_000)
        )
        for (publication, payload) in try TestSupport.readings(generator.generateAll().publications) {
            let text = String(decoding: publication.payload, as: UTF8.self)
            for (name, value) in payload.metrics {
                #expect(text.contains("\"\(name)\":\(value.description)"))
                let decimals = name == "humidity" ? 1.0 : 100.0
                let scaled = value * (name == "humidity" ? 10 : 100)
                #expect(abs(scaled - scaled.rounded()) < 1e-6, "\(name)=\(value) has more than \(decimals) decimals")
            }
        }
    }
}
