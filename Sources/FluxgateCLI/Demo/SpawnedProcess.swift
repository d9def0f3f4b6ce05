import Foundation
import Kafka
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, in its own process group, with a clean signal
/// mask and default signal dispositions, its standard streams on /dev/null; reaped by this type.
///
/// Foundation's `Process` hands the spawning thread's signal mask to the child; on the
/// concurrency pool that mask blocks SIGTERM and SIGINT, so the child would ignore them. The own
/// process group keeps a terminal's Ctrl-C away from the child: its parent stops it, in order.
///
/// Signals go to the child's pid only, and only until it has been reaped (so a recycled pid is
/// never hit).
final class SpawnedProcess: Sendable {
    /// The child's pid.
    let pid: pid_t
    private let exited = Mutex(false)

    private init(pid: pid_t) { self.pid = pid }

    /// Starts `executable` with `arguments`.
    ///
    /// - Throws: ``DemoError`` `setup-failed` when `posix_spawn` fails.
    static func spawn(_ executable: String, arguments: [String]) throws -> SpawnedProcess {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        // Never while a broker of a dev cluster in this process goes down (see there).
        let result = DevKafkaCluster.spawningChildProcess {
            posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        }
        guard result == 0 else {
            throw DemoError(.setupFailed, "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return SpawnedProcess(pid: pid)
    }

    deinit {
        if !exited.withLock({ $0 }) {
            _ = kill(pid, SIGKILL)
            _ = waitpid(pid, nil, 0)
        }
    }

    /// Whether the child still runs (reaps it when it has exited).
    var isRunning: Bool {
        exited.withLock { done in
            if done { return false }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { done = true }
            return !done
        }
    }

    /// Sends `signal` while the child has not been reaped; `false` when it has.
    @discardableResult
    func send(_ signal: Int32) -> Bool {
        exited.withLock { done in done ? false : kill(pid, signal) == 0 }
    }
}
