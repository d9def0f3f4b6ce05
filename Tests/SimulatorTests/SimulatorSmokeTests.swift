import Testing
@testable import Simulator

@Suite struct SimulatorSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
