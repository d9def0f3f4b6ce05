import Foundation
import Logging
import Observability
import ServiceLifecycle

/// Prints `line` on stdout once every readiness check passes, then idles until shutdown. Logs
/// what is still missing every 10 s while waiting.
struct ReadyAnnouncer: Service {
    let readiness: Readiness
    let line: String
    let logger: Logger

    func run() async throws {
        let clock = ContinuousClock()
        var nextReport = clock.now + .seconds(10)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if readiness.isReady {
                // Unbuffered, so a reader of a pipe sees the line at once.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
                logger.info("demo ready", metadata: ["url": "\(line)"])
                break
            }
            if clock.now >= nextReport {
                logger.info("demo still starting", metadata: ["waiting-for": "\(readiness.report)"])
                nextReport = clock.now + .seconds(10)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        try? await gracefulShutdown()
    }
}
