#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loopback port helpers for fixtures that start servers.
public enum FreePort {
    /// Returns a TCP port on 127.0.0.1 for a server the caller starts (in this process or a
    /// child), free right now and reserved for this process: outside the kernel's ephemeral range,
    /// so that no port-0 bind and no outgoing connection takes it before the server binds it or
    /// while a restarted server is down, and never handed out twice (see ``PortReservation``).
    /// Where the ephemeral range leaves no room, the kernel picks it (bound to port 0, released),
    /// and another process may take it first.
    public static func next() throws(FixtureError) -> Int {
        if let port = PortReservation.next(isFree: { isBindable(port: $0) }) { return port }
        for _ in 0..<100 {
            let port = try kernelPick()
            if PortReservation.recordKernelPort(port) { return port }
        }
        throw FixtureError(code: "no-free-port", message: "the kernel kept handing out ports this process already used")
    }

    /// Whether 127.0.0.1:`port` can be bound right now (nothing bound to it, no connection on it).
    static func isBindable(port: Int) -> Bool {
        withLoopbackSocket(port: port) { bind($0, $1, $2) == 0 } ?? false
    }

    /// A port the kernel picks for a bind to port 0 (in the ephemeral range), released at once.
    static func kernelPick() throws(FixtureError) -> Int {
        let picked = try withLoopbackSocket(port: 0) { (fd, address, length) throws(FixtureError) -> Int in
            guard bind(fd, address, length) == 0 else {
                throw FixtureError(code: "bind-failed", message: "bind(127.0.0.1:0) failed: errno \(errno)")
            }
            var bound = sockaddr_in()
            var size = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &bound) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
            }
            guard named == 0 else {
                throw FixtureError(code: "getsockname-failed", message: "getsockname failed: errno \(errno)")
            }
            return Int(UInt16(bigEndian: bound.sin_port))
        }
        guard let picked else { throw FixtureError(code: "socket-failed", message: "socket() failed: errno \(errno)") }
        return picked
    }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted right now.
    public static func isAccepting(port: Int) -> Bool {
        withLoopbackSocket(port: port) { connect($0, $1, $2) == 0 } ?? false
    }

    /// Polls until 127.0.0.1:`port` accepts connections or `timeout` passes.
    public static func waitUntilAccepting(port: Int, timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isAccepting(port: port) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return isAccepting(port: port)
    }

    /// Calls `body` with a new TCP socket and the address 127.0.0.1:`port`, then closes the
    /// socket; `nil` when no socket could be created.
    private static func withLoopbackSocket<Result, Failure: Error>(
        port: Int, _ body: (Int32, UnsafePointer<sockaddr>, socklen_t) throws(Failure) -> Result
    ) throws(Failure) -> Result? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        return try withUnsafePointer(to: &address) { (pointer) throws(Failure) -> Result in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(Failure) -> Result in
                try body(fd, address, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    static func loopbackAddress(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }
}
