import Testing
@testable import Kafka

@Suite struct KafkaSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
