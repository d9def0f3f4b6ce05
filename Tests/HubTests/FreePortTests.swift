import Foundation
import Testing

@testable import FluxgateTesting

#if canImport(Glibc)
import Glibc
#endif

/// The ports every hub of these tests listens on, and a restarted hub listens on again
/// (`FreePort`, Sources/FluxgateTesting; kept here, beside the fixtures that depend on it, as
/// FluxgateTesting has no test target of its own).
@Suite("FreePort: ports no one else is handed")
struct FreePortTests {
    @Test("ports lie outside the kernel's ephemeral range, free, and are never handed out twice")
    func outsideTheEphemeralRangeAndUnique() throws {
        let text = try String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        try #require(bounds.count == 2)
        let ephemeral = bounds[0]...bounds[1]
        // More than one block, so that a second block is claimed too.
        let ports = try (0..<(PortReservation.blockSize * 2 + 10)).map { _ in try FreePort.next() }
        #expect(Set(ports).count == ports.count, "a port handed out twice")
        #expect(ports.filter { ephemeral.contains($0) }.isEmpty, "ports in the ephemeral range \(ephemeral)")
        #expect(ports.allSatisfy { FreePort.isBindable(port: $0) })
    }

    @Test("another process cannot claim the block a port came from while this process runs")
    func blockIsLockedAgainstOtherProcesses() throws {
        let port = try FreePort.next()
        let range = try #require(PortReservation.range)
        let first = range.lowerBound + (port - range.lowerBound) / PortReservation.blockSize * PortReservation.blockSize
        // flock locks belong to an open file description: a second open of the file, even in this
        // process, is refused as another process's would be.
        let fd = open("\(PortReservation.lockDirectory)/block-\(first)", O_RDWR | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK)
    }
}
