import NIOConcurrencyHelpers

/// Which parts of a stage are ready to do their work, for `/readyz`.
///
/// Each long-running part registers under a name when it starts and reports readiness as it
/// changes (connected to the broker, partitions assigned, listening). The stage is ready when
/// every registered part is. Thread-safe: parts may report from any thread.
public final class Readiness: Sendable {
    private let state = NIOLockedValueBox<[String: Bool]>([:])

    public init() {}

    /// Registers `component` as not ready yet (or resets it to not ready).
    public func register(_ component: String) {
        state.withLockedValue { $0[component] = false }
    }

    /// Records whether `component` is ready; registers it if needed.
    public func set(_ component: String, ready: Bool) {
        state.withLockedValue { $0[component] = ready }
    }

    /// Removes `component`, e.g. when it has stopped on purpose.
    public func remove(_ component: String) {
        state.withLockedValue { _ = $0.removeValue(forKey: component) }
    }

    /// The names of the registered parts that are not ready, sorted.
    public var notReady: [String] {
        state.withLockedValue { $0.filter { !$0.value }.keys.sorted() }
    }

    /// True when every registered part is ready (and at least one is registered).
    public var isReady: Bool {
        state.withLockedValue { !$0.isEmpty && $0.values.allSatisfy { $0 } }
    }
}
