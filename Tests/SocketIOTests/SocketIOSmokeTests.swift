import Testing
@testable import SocketIO

@Suite struct SocketIOSmokeTests {
    @Test func moduleLinks() { #expect(Bool(true)) }
}
