import Foundation
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

    /// The shared state, in a class so that the termination and output handlers can hold it.
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
    private let process: SendableProcess
    private let state: StateBox

    private init(process: SendableProcess, executable: String, state: StateBox) {
        self.process = process
        self.pid = process.value.processIdentifier
        self.executable = executable
        self.state = state
    }

    deinit {
        if state.withLock({ $0.exitStatus == nil }) {
            _ = posixKill(pid, SIGKILL)
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let state = StateBox()
        var pipes: (Pipe, Pipe)?
        switch output {
        case .capture:
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            pipes = (out, err)
        case .discard:
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        case .file(let path):
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw FixtureError(code: "spawn-failed", message: "cannot open \(path) for the output of \(executable)")
            }
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
        }
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { finished in
            let status = finished.terminationStatus
            state.withLock { $0.exitStatus = status }
        }
        do {
            try process.run()
        } catch {
            throw FixtureError(code: "spawn-failed", message: "cannot start \(executable): \(error)")
        }
        if let (out, err) = pipes {
            drain(out.fileHandleForReading) { data in state.withLock { $0.stdout.append(data) } }
            drain(err.fileHandleForReading) { data in state.withLock { $0.stderr.append(data) } }
        }
        return ChildProcess(process: SendableProcess(value: process), executable: executable, state: state)
    }

    /// Reads `handle` to its end on a dedicated thread with blocking reads. (Foundation's
    /// `readabilityHandler` runs on libdispatch sources, and with many short-lived children one
    /// crashed libdispatch's manager thread in CI when a source outlived its descriptor.)
    private static func drain(_ handle: FileHandle, _ append: @escaping @Sendable (Data) -> Void) {
        let thread = Thread {
            let descriptor = handle.fileDescriptor
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
            try? handle.close()
        }
        thread.name = "child-output"
        thread.start()
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

/// `Process` is used only through its thread-safe parts (pid, run once, termination handler).
private struct SendableProcess: @unchecked Sendable {
    let value: Process
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
