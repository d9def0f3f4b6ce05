import FluxgateTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The child processes every hub test starts (python-socketio clients, curl): `ChildProcess`,
/// Sources/FluxgateTesting, kept here beside the fixtures that depend on it, as FluxgateTesting has
/// no test target of its own.
@Suite("ChildProcess: children started with posix_spawn")
struct ChildProcessTests {
    @Test("captures both streams by line and reports the exit code")
    func outputAndExitCode() async throws {
        let child = try ChildProcess.spawn("/bin/sh", arguments: ["-c", "echo one; echo two; echo oops >&2; exit 3"])
        #expect(try await child.waitForExit(timeout: .seconds(20)) == 3)
        try await child.waitForOutput(timeout: .seconds(10)) { $0 == ["one", "two"] }
        try await waitUntil(timeout: .seconds(10), "standard error read") { child.errorLines == ["oops"] }
        #expect(!child.isRunning)
    }

    @Test("a signalled child reports the signal; the environment is the one given")
    func signalAndEnvironment() async throws {
        let sleeper = try ChildProcess.spawn("/bin/sleep", arguments: ["60"])
        #expect(sleeper.isRunning)
        sleeper.terminate()
        #expect(try await sleeper.waitForExit(timeout: .seconds(20)) == SIGTERM)
        let env = try ChildProcess.spawn("/usr/bin/env", arguments: [], environment: ["ONLY": "this"])
        try await env.waitForExit(timeout: .seconds(20))
        try await env.waitForOutput(timeout: .seconds(10)) { $0 == ["ONLY=this"] }
    }

    @Test("the child inherits no descriptor but its standard streams")
    func noInheritedDescriptors() async throws {
        // Descriptors this process holds without close-on-exec must not reach the child either.
        let leaked = open("/dev/null", O_RDONLY)
        try #require(leaked > 2)
        defer { close(leaked) }
        let child = try ChildProcess.spawn("/bin/ls", arguments: ["/proc/self/fd"])
        #expect(try await child.waitForExit(timeout: .seconds(20)) == 0)
        try await child.waitForOutput(timeout: .seconds(10)) { $0.count >= 3 }
        // 0, 1, 2 and the descriptor ls reads the folder with.
        #expect(child.outputLines.count <= 4, "\(child.outputLines)")
    }

    @Test("a missing executable is a spawn-failed error")
    func missingExecutable() {
        #expect(throws: FixtureError.self) { _ = try ChildProcess.spawn("/nonexistent/tool", arguments: []) }
    }
}
