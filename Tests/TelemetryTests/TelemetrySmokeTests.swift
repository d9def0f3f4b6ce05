import Testing
@testable import Telemetry

@Suite struct TelemetrySmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
