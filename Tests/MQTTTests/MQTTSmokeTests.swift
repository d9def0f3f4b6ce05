import Testing
@testable import MQTT

@Suite struct MQTTSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
