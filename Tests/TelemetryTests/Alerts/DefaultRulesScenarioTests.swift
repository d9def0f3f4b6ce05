import Testing

@testable import Telemetry

/// The default rules on a demo-like greenhouse: a 45 s spike to 36 °C activates `overheating`
/// after 10 s and the first normal reading clears it; a 45 s silence activates `silent`.
@Suite struct DefaultRulesScenarioTests {
    @Test func greenhouseSpikeAndSilence() throws {
        let configuration = TelemetryConfiguration.standard
        var evaluator = AlertEvaluator(rules: configuration.rules)
        var windows = WindowAggregator(configuration: configuration.windowing)
        let device = DeviceID("greenhouse-002")!
        let t0: Int64 = 1_764_400_000_000
        var transitions: [AlertTransition] = []
        var closed: [WindowStats] = []
        // One reading a second for 3 minutes; a spike from 60 s to 105 s; silence from 150 s to 195 s.
        for second in Int64(0)..<240 {
            let ts = t0 + second * 1000
            transitions += evaluator.advance(now: ts)
            closed += windows.advance(now: ts)
            if (150..<195).contains(second) { continue }
            let spiking = (60..<105).contains(second)
            let temperature = spiking ? 36.0 : 24.0 + Double(second % 5) * 0.1
            let reading = Reading(
                device: device, ts: ts, seq: UInt64(second),
                metrics: [Metric("temperature", temperature), Metric("humidity", 65)])
            transitions += evaluator.evaluate(reading, arrivedAt: ts)
            closed += windows.ingest(reading, arrivedAt: ts).closed
        }
        let summary = transitions.map { "\($0.rule) \($0.state.rawValue) \(($0.ts - t0) / 1000)" }
        #expect(
            summary == [
                "temperature-jump active 60", "temperature-jump cleared 61", "overheating active 70",
                "overheating cleared 105", "silent active 179", "silent cleared 195",
            ])
        // The spike shows in the 10 s windows, and the silent gap closed its windows by wall clock.
        let spikeWindow = try #require(closed.first { $0.metric == "temperature" && $0.window == "10s" && $0.start == t0 + 70_000 })
        #expect(spikeWindow.min == 36 && spikeWindow.max == 36 && spikeWindow.count == 10)
        #expect(closed.contains { $0.window == "10s" && $0.start == t0 + 140_000 && $0.final })
        #expect(windows.lateReadings == 0)
    }
}
