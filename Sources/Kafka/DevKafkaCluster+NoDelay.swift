#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns Nagle's algorithm off on the mock brokers' listening sockets.
///
/// Real Kafka brokers set `TCP_NODELAY` on every connection; librdkafka's mock cluster does not.
/// With Nagle on, the mock's second small response on a connection (one per partition of a
/// produce request, for instance) waits for the client's delayed ACK: 40-50 ms per round trip
/// on loopback, where a real broker answers in about a millisecond. Every stage that waits for
/// Kafka (the ingress acknowledging MQTT messages, the hub's end-to-end latency) paid that.
///
/// The mock's sockets are private to librdkafka, but they live in this process: the listening
/// sockets are found among the process's descriptors by their local port, and on Linux an
/// accepted socket inherits `TCP_NODELAY` from its listener.
enum MockBrokerSockets {
    /// Sets `TCP_NODELAY` on every listening TCP socket of this process bound to one of `ports`.
    /// Returns how many sockets it changed.
    @discardableResult
    static func disableNagle(onListenersAt ports: Set<Int>) -> Int {
        forEachSocket(boundTo: ports) { descriptor in
            isListening(descriptor) && setNoDelay(descriptor)
        }
    }

    /// Whether every accepted (non-listening) TCP socket of this process bound to one of `ports`
    /// has `TCP_NODELAY` set, and how many there are. For tests.
    static func acceptedSockets(at ports: Set<Int>) -> (count: Int, allNoDelay: Bool) {
        var allNoDelay = true
        let count = forEachSocket(boundTo: ports) { descriptor in
            guard !isListening(descriptor) else { return false }
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) != 0 || value == 0 {
                allNoDelay = false
            }
            return true
        }
        return (count, allNoDelay)
    }

    /// The ports of a `host:port,host:port` bootstrap list.
    static func ports(of bootstrapServers: String) -> Set<Int> {
        Set(bootstrapServers.split(separator: ",").compactMap { server in
            server.split(separator: ":").last.flatMap { Int($0) }
        })
    }

    /// Calls `body` for each open descriptor that is an IPv4/IPv6 socket whose local port is in
    /// `ports`; returns how many calls returned `true`.
    private static func forEachSocket(boundTo ports: Set<Int>, _ body: (Int32) -> Bool) -> Int {
        guard !ports.isEmpty, let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        // The name is read in place up to its NUL. Copying `d_name` (a 256-byte tuple) reads past
        // the end of glibc's directory buffer when the entry is the last one in it and crashed a
        // full test run (SIGSEGV in memcpy), the bug of Foundation's `Process.run()` (see
        // ChildProcess in FluxgateTesting).
        guard let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) else { return 0 }
        var matched = 0
        while let entry = readdir(directory) {
            let name = String(cString: (UnsafeRawPointer(entry) + nameOffset).assumingMemoryBound(to: CChar.self))
            guard let descriptor = Int32(name), let port = localPort(of: descriptor), ports.contains(port) else {
                continue
            }
            if body(descriptor) { matched += 1 }
        }
        return matched
    }

    private static func localPort(of descriptor: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default:
            return nil
        }
    }

    private static func isListening(_ descriptor: Int32) -> Bool {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &value, &length) == 0 && value != 0
    }

    private static func setNoDelay(_ descriptor: Int32) -> Bool {
        var on: Int32 = 1
        return setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
    }
}
