#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// Keeps the loopback ports of mock brokers that are down from being taken by anyone else.
///
/// A broker that goes down closes its listening socket; when it comes back up, librdkafka's
/// mock binds the same port again and **aborts the whole process** (an assertion in
/// `rd_kafka_mock_broker_cmd`) if that fails. The brokers' ports come from the kernel's
/// ephemeral range, so while a broker is down any outgoing connection of the process (or another
/// dev cluster binding port 0) may be given its port: this crashed a full parallel test run.
///
/// While a broker is down, a socket with `SO_REUSEADDR` stays bound to its port without
/// listening. Port-0 binds and outgoing connections then skip the port, while the mock's own
/// listener (also `SO_REUSEADDR`) can still bind and listen on it next to the placeholder; the
/// placeholder is closed once the listener is back.
final class BrokerPortHolds: Sendable {
    /// Placeholder descriptors by port.
    private let held = NIOLockedValueBox<[Int: Int32]>([:])

    deinit {
        releaseAll()
    }

    /// Binds a placeholder to each of `ports` that no listener of this process has any more.
    /// Returns the ports it could not hold (bound by someone else already).
    @discardableResult
    func holdFreed(_ ports: Set<Int>) -> [Int] {
        let listening = MockBrokerSockets.listeningPorts(among: ports)
        return held.withLockedValue { held in
            var failed: [Int] = []
            for port in ports.sorted() where !listening.contains(port) && held[port] == nil {
                if let descriptor = Self.bindPlaceholder(port: port) {
                    held[port] = descriptor
                } else {
                    failed.append(port)
                }
            }
            return failed
        }
    }

    /// Closes the placeholders of ports that have a listener again.
    func releaseRebound() {
        let ports = held.withLockedValue { Set($0.keys) }
        let listening = MockBrokerSockets.listeningPorts(among: ports)
        held.withLockedValue { held in
            for port in listening {
                if let descriptor = held.removeValue(forKey: port) { close(descriptor) }
            }
        }
    }

    /// The ports held now.
    var ports: Set<Int> { held.withLockedValue { Set($0.keys) } }

    /// Closes every placeholder.
    func releaseAll() {
        held.withLockedValue { held in
            for descriptor in held.values { close(descriptor) }
            held.removeAll()
        }
    }

    private static func bindPlaceholder(port: Int) -> Int32? {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return nil }
        var on: Int32 = 1
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let reusable = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
        let bound = reusable && withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard bound else {
            close(descriptor)
            return nil
        }
        return descriptor
    }
}
