import Foundation

/// Runs blocking work on a new Foundation `Thread`, off the cooperative pool, and returns its
/// result. For long loops (poll loops) and rare blocking calls (admin requests); not for
/// per-record work.
func runOnDedicatedThread<Result: Sendable, Failure: Error>(
    name: String,
    _ body: @escaping @Sendable () -> Swift.Result<Result, Failure>
) async -> Swift.Result<Result, Failure> {
    await withCheckedContinuation { (continuation: CheckedContinuation<Swift.Result<Result, Failure>, Never>) in
        let thread = Thread {
            // Named from the thread itself: set from outside, the name never reached the kernel
            // (`top -H` and `perf` showed the creating thread's name). Linux keeps 15 bytes.
            Thread.current.name = String(name.prefix(15))
            continuation.resume(returning: body())
        }
        thread.start()
    }
}

/// Runs a blocking throwing call on a dedicated thread.
func runBlocking<Result: Sendable>(
    name: String,
    _ body: @escaping @Sendable () throws(KafkaError) -> Result
) async throws(KafkaError) -> Result {
    let result = await runOnDedicatedThread(name: name) { () -> Swift.Result<Result, KafkaError> in
        do throws(KafkaError) {
            return .success(try body())
        } catch {
            return .failure(error)
        }
    }
    return try result.get()
}
