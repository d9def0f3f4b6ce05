import Logging
import NIOConcurrencyHelpers

/// What the application's tasks and the loop thread share: configuration, the locked state and
/// the wake-up pipe. State changes happen inside the lock; continuations are resumed and the loop
/// is woken after it is released.
final class ClientCore: BatchAcknowledger {
    let configuration: MQTTConfiguration
    let logger: Logger
    let state: NIOLockedValueBox<ClientState>
    let wakeup: WakeupPipe

    init(configuration: MQTTConfiguration, logger: Logger) throws(MQTTError) {
        self.configuration = configuration
        self.logger = logger
        self.state = NIOLockedValueBox(
            ClientState(
                deferred: configuration.acknowledgement == .deferred,
                bufferLimit: configuration.bufferLimit,
                maxReadAhead: configuration.maxReadAhead
            )
        )
        self.wakeup = try WakeupPipe()
    }

    func acknowledge(batch: UInt64) {
        if state.withLockedValue({ $0.acknowledge(batch: batch) }) {
            wakeup.signal()
        }
    }

    /// Next batch for the (single) consumer; `nil` once the client stops or the consuming task is
    /// cancelled.
    func nextBatch() async -> MQTTMessageBatch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: ConsumerContinuation) in
                switch state.withLockedValue({ $0.next(continuation) }) {
                case .resume(let batch, let wakeLoop):
                    continuation.resume(returning: batch)
                    if wakeLoop { wakeup.signal() }
                case .suspended:
                    break
                }
            }
        } onCancel: {
            state.withLockedValue { $0.cancelConsumer() }?.resume(returning: nil)
        }
    }

    /// Queues a request for the loop thread and waits for its outcome.
    func perform(_ kind: ClientRequest.Kind) async -> Result<RequestOutcome, MQTTError> {
        let id = state.withLockedValue { $0.reserveRequest() }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: RequestContinuation) in
                switch state.withLockedValue({ $0.enqueue(id, kind, continuation: continuation) }) {
                case .wakeLoop:
                    wakeup.signal()
                case .queued:
                    break
                case .fail(let error):
                    continuation.resume(returning: .failure(error))
                }
            }
        } onCancel: {
            state.withLockedValue { $0.cancel(id) }?.resume(returning: .failure(.cancelledError))
        }
    }

    /// Completes a request (loop thread).
    func complete(_ id: UInt64?, _ outcome: Result<RequestOutcome, MQTTError>) {
        guard let id else { return }
        state.withLockedValue { $0.takeWaiter(id) }?.resume(returning: outcome)
    }

    /// Starts a graceful shutdown that waits at most `grace` for acknowledgements.
    func beginShutdown(grace: Duration) {
        switch state.withLockedValue({ $0.beginShutdown(deadline: .now + grace) }) {
        case .none:
            break
        case .wakeLoop(let consumer):
            consumer?.resume(returning: nil)
            wakeup.signal()
        }
    }
}
