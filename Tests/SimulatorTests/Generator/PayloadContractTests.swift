import Testing

@testable import Simulator

@Suite struct PayloadContractTests {
    @Test(arguments: ["test.yaml", "demo.yaml"])
    func everyPayloadFollowsTheContract(file: String) throws {
        let fleet = try TestSupport.loadFleet(file)
        var generator = FleetGenerator(
            fleet: fleet,
            startMilliseconds: TestSupport.start,
            limits: GeneratorLimits(durationMilliseconds: 400_000)
        )
        let publications = generator.generateAll().publications
        let ids = Set(fleet.devices.map(\.id))
        var telemetry = 0
        for publication in publications {
            #expect(ids.contains(publication.deviceID))
            #expect(NameRules.isValidDeviceID(publication.deviceID))
            #expect(publication.payload.count <= 65_536)
            switch publication.kind {
            case .status(let status):
                #expect(publication.topic == "devices/\(publication.deviceID)/status")
                #expect(publication.payload == Array(status.rawValue.utf8))
                #expect(publication.retain)
            case .telemetry(let seq, let ts):
                telemetry += 1
                #expect(publication.topic == "devices/\(publication.deviceID)/telemetry")
                #expect(!publication.retain)
                let payload = try TestSupport.decode(publication.payload)
                #expect(payload.keys == ["ts", "seq", "metrics"])
                #expect(payload.ts == ts && payload.seq == seq)
                #expect((1...64).contains(payload.metrics.count))
                for (name, value) in payload.metrics {
                    #expect(NameRules.isValidMetricName(name))
                    #expect(value.isFinite)
                }
            }
        }
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
