import ServiceLifecycle
import Logging

/// A test step that did not finish in time.
public struct TestTimeout: Error, CustomStringConvertible, Sendable {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "Timed out: \(what)" }
}

/// Runs `body`, failing with ``TestTimeout`` after `seconds`.
public func withTimeout<T: Sendable>(
    _ seconds: Double,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestTimeout(what: what)
        }
        return value
    }
}

/// Polls `condition` every 20 ms until it holds, failing with ``TestTimeout`` after `seconds`.
public func waitUntil(
    _ seconds: Double,
    _ what: @autoclosure () -> String,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while try await !condition() {
        if ContinuousClock.now > deadline { throw TestTimeout(what: what()) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Runs `services` in a `ServiceGroup` while `body` runs, then shuts the group down gracefully
/// and waits for it to finish. Services start in order and stop in reverse order.
public func whileRunning<T: Sendable>(
    _ services: [any Service],
    logger: Logger,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let group = ServiceGroup(services: services, logger: logger)
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        do {
            let result = try await body()
            await group.triggerGracefulShutdown()
            while try await tasks.next() != nil {}
            return result
        } catch {
            tasks.cancelAll()
            throw error
        }
    }
}
