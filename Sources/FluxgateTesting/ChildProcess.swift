import Foundation
import Kafka
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started by a test: spawn with arguments, capture its output by line, send
/// SIGTERM/SIGKILL to its own pid only, wait for it with a deadline.
///
/// The process is SIGKILLed when the last reference goes away while it still runs, so a failing
/// test does not leave it behind. Signals are sent only while the process has not been reaped, so
/// a recycled pid is never hit.
///
/// Children are started with `posix_spawn` directly, not Foundation's `Process`: on Linux (Swift
/// 6.3.1) `Process.run()` lists `/proc/self/fd` with a 256-byte copy of every `dirent`, which reads
/// past glibc's buffer and crashed the test process (SIGSEGV in `memcpy` under `Process.run()`,
/// swift-corelibs-foundation#5472) in the full parallel suite, where the process holds hundreds of
/// descriptors. Descriptors other than 0-2 are closed in the child
/// (`posix_spawn_file_actions_addclosefrom_np`), the child gets its own process group and default
/// signal handling, as with `Process`.
public final class ChildProcess: Sendable {
    /// Where the child's standard output and error go.
    public enum Output: Sendable {
        /// Keep every line in memory (`outputLines`, `errorLines`).
        case capture
        /// Discard the output.
        case discard
        /// Append both streams to a file.
        case file(String)
    }

    /// The shared state, in a class so that the waiter and output threads can hold it.
    private final class StateBox: Sendable {
        let mutex = Mutex(State())
        func withLock<R>(_ body: (inout State) -> R) -> R { mutex.withLock { body(&$0) } }
    }

    private struct State {
        var exitStatus: Int32?
        var stdout = LineBuffer()
        var stderr = LineBuffer()
    }

    /// The child's process id.
    public let pid: Int32
    /// The executable path, for messages.
    public let executable: String
    private let state: StateBox

    private init(pid: Int32, executable: String, state: StateBox) {
        self.pid = pid
        self.executable = executable
        self.state = state
    }

    deinit {
        state.withLock { state in
            if state.exitStatus == nil { _ = posixKill(pid, SIGKILL) }
        }
    }

    /// Starts `executable` with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: the whole environment of the child; `nil` inherits this process's one.
    ///   - output: where standard output and error go (default: captured by line).
    /// - Throws: `FixtureError` `spawn-failed` when the executable is missing or cannot start.
    public static func spawn(
        _ executable: String,
        arguments: [String],
        environment: [String: String]? = nil,
        output: Output = .capture
    ) throws(FixtureError) -> ChildProcess {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw FixtureError(code: "spawn-failed", message: "\(executable) is not an executable file; install it or fix the path")
        }
        func failed(_ what: String, _ code: Int32) -> FixtureError {
            FixtureError(code: "spawn-failed", message: "cannot start \(executable): \(what): \(String(cString: strerror(code)))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        // Read ends (parent) and write ends (child) of the capture pipes.
        var pipes: (stdout: [Int32], stderr: [Int32])?
        switch output {
        case .capture:
            var out: [Int32] = [-1, -1]
            var err: [Int32] = [-1, -1]
            guard Glibc2.pipe2(&out, O_CLOEXEC) == 0 else { throw failed("pipe", errno) }
            guard Glibc2.pipe2(&err, O_CLOEXEC) == 0 else {
                let code = errno
                out.forEach { close($0) }
                throw failed("pipe", code)
            }
            posix_spawn_file_actions_adddup2(&actions, out[1], 1)
            posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            pipes = (out, err)
        case .discard:
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .file(let path):
            posix_spawn_file_actions_addopen(&actions, 1, path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        guard Glibc2.addCloseFrom(&actions, 3) == 0 else { throw failed("posix_spawn_file_actions_addclosefrom_np", errno) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        // Never while a broker of a dev cluster in this process goes down (see there).
        let result = DevKafkaCluster.spawningChildProcess {
            posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        }
        if let pipes { close(pipes.stdout[1]); close(pipes.stderr[1]) }
        guard result == 0 else {
            if let pipes { close(pipes.stdout[0]); close(pipes.stderr[0]) }
            throw failed("posix_spawn", result)
        }
        let state = StateBox()
        if let pipes {
            drain(pipes.stdout[0]) { data in state.withLock { $0.stdout.append(data) } }
            drain(pipes.stderr[0]) { data in state.withLock { $0.stderr.append(data) } }
        }
        reap(pid, state)
        return ChildProcess(pid: pid, executable: executable, state: state)
    }

    /// Waits for the child on a dedicated thread: first without reaping it (`WNOWAIT`), then reaps
    /// it and records the status under the lock, so that ``send(signal:)`` never signals a pid that
    /// may have been recycled. The status is the exit code, or the signal that ended the child.
    private static func reap(_ pid: pid_t, _ state: StateBox) {
        startThread(named: "child-reaper") {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
            state.withLock { state in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0, errno == EINTR {}
                let signal = status & 0x7f
                state.exitStatus = signal == 0 ? (status >> 8) & 0xff : signal
            }
        }
    }

    /// Reads `descriptor` to its end on a dedicated thread with blocking reads, then closes it.
    private static func drain(_ descriptor: Int32, _ append: @escaping @Sendable (Data) -> Void) {
        startThread(named: "child-output") {
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    append(Data(buffer[0..<count]))
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    break  // end of file (every writer closed) or an error
                }
            }
            close(descriptor)
        }
    }

    /// Runs `body` on a new thread named `name` (named from inside the thread: a name set before
    /// `start()` never reaches the kernel, so `top -H` and `perf` would show the creator's).
    private static func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
        Thread {
            Thread.current.name = name
            body()
        }.start()
    }

    /// Whether the process has not exited yet.
    public var isRunning: Bool { state.withLock { $0.exitStatus == nil } }

    /// The exit status (or terminating signal) once the process has exited.
    public var exitStatus: Int32? { state.withLock { $0.exitStatus } }

    /// Complete lines the child wrote to standard output so far (with `.capture`).
    public var outputLines: [String] { state.withLock { $0.stdout.lines } }

    /// Complete lines the child wrote to standard error so far (with `.capture`).
    public var errorLines: [String] { state.withLock { $0.stderr.lines } }

    /// Sends `signal` to the child, if it has not exited.
    public func send(signal: Int32) {
        state.withLock { state in
            if state.exitStatus == nil { _ = posixKill(pid, signal) }
        }
    }

    /// Sends SIGKILL.
    public func kill() { send(signal: SIGKILL) }

    /// Sends SIGTERM.
    public func terminate() { send(signal: SIGTERM) }

    /// Waits until the process exits; returns its status.
    ///
    /// - Throws: `FixtureError` `timeout` when it is still running after `timeout`.
    @discardableResult
    public func waitForExit(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatus { return status }
            if ContinuousClock.now >= deadline {
                throw FixtureError(code: "timeout", message: "\(executable) (pid \(pid)) still runs after \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`; waits for the exit.
    @discardableResult
    public func stop(grace: Duration = .seconds(5)) async throws -> Int32 {
        terminate()
        if let status = try? await waitForExit(timeout: grace) { return status }
        kill()
        return try await waitForExit(timeout: .seconds(5))
    }

    /// Waits until `predicate` holds for the captured standard output lines.
    ///
    /// - Throws: `FixtureError` `timeout` (with the last lines) when it does not hold in time.
    public func waitForOutput(timeout: Duration, until predicate: ([String]) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = outputLines
            if predicate(lines) { return }
            if ContinuousClock.now >= deadline {
                let tail = (lines.suffix(5) + errorLines.suffix(10)).joined(separator: "\n")
                throw FixtureError(
                    code: "timeout",
                    message: "\(executable) output did not reach the expected state within \(timeout); last lines:\n\(tail)"
                )
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Splits a byte stream into lines.
struct LineBuffer {
    private(set) var lines: [String] = []
    private var partial: [UInt8] = []

    mutating func append(_ data: Data) {
        for byte in data {
            if byte == UInt8(ascii: "\n") {
                lines.append(String(decoding: partial, as: UTF8.self))
                partial.removeAll(keepingCapacity: true)
            } else {
                partial.append(byte)
            }
        }
    }
}

/// `kill(2)`, named apart from `ChildProcess.kill()`.
func posixKill(_ pid: Int32, _ signal: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.kill(pid, signal)
    #else
    Darwin.kill(pid, signal)
    #endif
}

/// glibc functions Swift does not import (declared under `_GNU_SOURCE`/`__USE_MISC`), looked up
/// by name; both exist since glibc 2.34 (Debian 12 has 2.36).
private enum Glibc2 {
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    /// `pipe2(2)`; -1 with `errno` ENOSYS when missing.
    static func pipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32 {
        guard let symbol = dlsym(nil, "pipe2") else {
            errno = ENOSYS
            return -1
        }
        return unsafeBitCast(symbol, to: Pipe2.self)(fds, flags)
    }

    /// `posix_spawn_file_actions_addclosefrom_np(3)`: close every descriptor from `from` on in the
    /// child; -1 with `errno` ENOSYS when missing.
    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32 {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            errno = ENOSYS
            return -1
        }
        let result = unsafeBitCast(symbol, to: AddCloseFrom.self)(actions, from)
        if result != 0 { errno = result }
        return result
    }
}
