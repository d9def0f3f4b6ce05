import NIOConcurrencyHelpers

extension DevKafkaCluster {
    /// Runs `spawn`, a call that starts a child process (`posix_spawn`, `fork` and `exec`), so
    /// that no broker of a dev cluster in this process goes down meanwhile.
    ///
    /// A process that hosts a dev cluster with fault injection **and** starts child processes
    /// (a test process) must start every child through this, or it may abort:
    /// - A broker that goes down closes its listening socket and at once binds a new one to the
    ///   same port, so that it keeps its port; librdkafka's mock aborts the whole process (an
    ///   assertion in `rd_kafka_mock_broker_cmd`) when that bind fails.
    /// - A child being spawned holds a copy of every descriptor of its parent, close-on-exec ones
    ///   included, until its `exec`. A listener closed in that window stays open in the child,
    ///   and the new bind fails with "Address already in use". On the development machine, 86
    ///   of 20,000 close-and-rebind cycles failed while another thread started `/bin/true` in a
    ///   loop, and none without it; two full test runs aborted this way.
    ///
    /// `posix_spawn` returns once the child has called `exec` (or failed to), so holding a lock
    /// around it is enough. Spawns wait for a broker going down and the other way round; spawns
    /// also wait for each other (a few milliseconds each).
    public static func spawningChildProcess<Result>(_ spawn: () throws -> Result) rethrows -> Result {
        try brokerSocketGate.withLock(spawn)
    }

    /// Held while a child process starts and while a broker goes down (see
    /// ``spawningChildProcess(_:)``). Taken before a cluster's own lock, never after.
    static let brokerSocketGate = NIOLock()
}
