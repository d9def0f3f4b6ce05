import NIOConcurrencyHelpers

/// Which parts of a stage are ready to do their work, for `/readyz`.
///
/// Each long-running part registers a check under a name when it starts and reports as it
/// changes (connected, partitions assigned, listening). The stage is ready when every
/// registered check is `ok`. Thread-safe: parts may report from any thread.
public final class Readiness: Sendable {
    /// Check name to `nil` when ok, or a short reason such as `joining` or `unreachable`.
    private let checks = NIOLockedValueBox<[String: String?]>([:])

    public init() {}

    /// Registers `check` as not ready (`starting`), or resets it.
    public func register(_ check: String) {
        checks.withLockedValue { $0[check] = .some("starting") }
    }

    /// Marks `check` ready.
    public func ready(_ check: String) {
        checks.withLockedValue { $0[check] = .some(nil) }
    }

    /// Marks `check` not ready with a short reason (`joining`, `unreachable`, `lagging`, ...).
    public func notReady(_ check: String, reason: String) {
        checks.withLockedValue { $0[check] = .some(reason) }
    }

    /// Removes `check`, e.g. when its part has stopped on purpose.
    public func remove(_ check: String) {
        checks.withLockedValue { _ = $0.removeValue(forKey: check) }
    }

    /// Every check with `ok` or its reason.
    public var report: [String: String] {
        checks.withLockedValue { $0.mapValues { $0 ?? "ok" } }
    }

    /// True when every registered check is ok and at least one is registered.
    public var isReady: Bool {
        checks.withLockedValue { !$0.isEmpty && $0.values.allSatisfy { $0 == nil } }
    }
}
