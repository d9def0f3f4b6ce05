import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where ``FreePort`` takes ports from, and which ones it has handed out.
///
/// A port that was merely free a moment ago (bound to port 0, then released) lies in the
/// kernel's ephemeral range, so between the check and the server's bind the kernel may give it
/// to anyone: a dev Kafka broker binding port 0, or the local end of any outgoing connection of
/// the busy test process. A server restarted on its old port (a hub or pipeline stage in the
/// recovery and restart tests) has the same window for its whole downtime. Ports outside the
/// ephemeral range are never assigned by the kernel, so the only other takers are fixtures that
/// choose them the same way:
/// - within this process, a port is handed out once;
/// - between processes (parallel test runs on one machine), each process claims blocks of
///   ``blockSize`` ports with `flock` on a file per block in ``lockDirectory``, held until it
///   exits (the kernel drops the lock then, also after a crash).
///
/// When the ephemeral range leaves no room (it covers most ports) ports come from the kernel as
/// before, still never twice in one process.
struct PortReservation: Sendable {
    /// Ports per claimed block.
    static let blockSize = 64
    /// Shared between processes (not `TMPDIR`, which may differ per process).
    static let lockDirectory = "/tmp/fluxgate-test-ports"
    /// The lowest port considered (below lie well-known and registered services).
    static let lowestPort = 10_000

    private struct State {
        /// The blocks this process holds, by first port, with the lock file descriptor.
        var blocks: [Int: Int32] = [:]
        /// Ports of the held blocks not handed out yet, lowest last.
        var available: [Int] = []
        /// Every port handed out so far.
        var handedOut: Set<Int> = []
    }

    private static let state = Mutex(State())

    /// The range ports are taken from: the larger part of `lowestPort...65535` outside the
    /// kernel's ephemeral range, or `nil` when less than 4096 ports are left.
    static let range: ClosedRange<Int>? = {
        let ephemeral = ephemeralRange() ?? 32768...60999
        var candidates: [ClosedRange<Int>] = []
        if ephemeral.lowerBound - 1 >= lowestPort { candidates.append(lowestPort...(ephemeral.lowerBound - 1)) }
        if ephemeral.upperBound + 1 <= 65535 { candidates.append((ephemeral.upperBound + 1)...65535) }
        guard let best = candidates.max(by: { $0.count < $1.count }), best.count >= 4096 else { return nil }
        return best
    }()

    /// The next port of this process's blocks that `isFree` accepts, claiming a new block when
    /// they are used up; `nil` when no block can be claimed.
    static func next(isFree: (Int) -> Bool) -> Int? {
        guard let range else { return nil }
        return state.withLock { state in
            while true {
                while let port = state.available.popLast() {
                    state.handedOut.insert(port)
                    if isFree(port) { return port }
                }
                guard claimBlock(in: range, &state) else { return nil }
            }
        }
    }

    /// Records a port the kernel picked; false when this process handed it out before.
    static func recordKernelPort(_ port: Int) -> Bool {
        state.withLock { $0.handedOut.insert(port).inserted }
    }

    /// Claims a block not held by this or another process, trying them from a random start.
    private static func claimBlock(in range: ClosedRange<Int>, _ state: inout State) -> Bool {
        let count = range.count / blockSize
        guard count > 0 else { return false }
        mkdir(lockDirectory, 0o777)
        let start = Int.random(in: 0..<count)
        for step in 0..<count {
            let first = range.lowerBound + ((start + step) % count) * blockSize
            guard state.blocks[first] == nil else { continue }
            let fd = open("\(lockDirectory)/block-\(first)", O_CREAT | O_RDWR | O_CLOEXEC, 0o666)
            if fd < 0 {
                // No lock directory: this process's ports stay unique, other processes are not seen.
                state.blocks[first] = -1
            } else if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                close(fd)
                continue
            } else {
                state.blocks[first] = fd
            }
            state.available = (first..<(first + blockSize)).reversed()
            return true
        }
        return false
    }

    /// `net.ipv4.ip_local_port_range` ("low<TAB>high"), or `nil` where there is none.
    private static func ephemeralRange() -> ClosedRange<Int>? {
        guard let text = try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8) else {
            return nil
        }
        let numbers = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard numbers.count == 2, numbers[0] > 0, numbers[1] >= numbers[0] else { return nil }
        return numbers[0]...numbers[1]
    }
}
