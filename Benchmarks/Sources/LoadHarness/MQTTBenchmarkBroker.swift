// A mosquitto process for `LoadHarness mqtt` (the test fixtures are not a product, so the
// harness starts its own): free loopback port, generated config, killed at the end.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

final class MQTTBenchmarkBroker {
    let port: Int
    let directory: URL
    private let process: Process

    init() throws {
        port = try Self.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("fluxgate-mqtt-bench-\(port)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var lines = [
            "listener \(port) 127.0.0.1",
            "allow_anonymous true",
            "persistence false",
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            "persistent_client_expiration 1h",
            "log_dest file \(directory.path)/mosquitto.log",
            "log_type error",
            "log_type warning",
        ]
        if getuid() == 0 { lines.append("user root") }
        let config = directory.appendingPathComponent("mosquitto.conf")
        try (lines.joined(separator: "\n") + "\n").write(to: config, atomically: true, encoding: .utf8)
        let executable = ProcessInfo.processInfo.environment["FLUXGATE_MOSQUITTO"] ?? "/usr/sbin/mosquitto"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw MQTTBenchmarkError("\(executable) not found: apt-get install mosquitto mosquitto-clients")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", config.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<500 {
            if Self.accepts(port: port) { return }
            usleep(10_000)
        }
        process.terminate()
        throw MQTTBenchmarkError("mosquitto did not listen on 127.0.0.1:\(port)")
    }

    /// Kills the broker (only its own pid) and removes its folder.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: directory)
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw MQTTBenchmarkError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }
}

struct MQTTBenchmarkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
