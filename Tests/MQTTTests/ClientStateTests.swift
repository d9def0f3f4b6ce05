import Testing

@testable import MQTT

/// The acknowledgement bookkeeping without threads or sockets.
@Suite struct ClientStateTests {
    final class NoAcknowledger: BatchAcknowledger {
        func acknowledge(batch: UInt64) {}
    }

    let acknowledger = NoAcknowledger()

    func messages(_ count: Int, qos: MQTTQoS = .atLeastOnce) -> [MQTTMessage] {
        (0..<count).map { MQTTMessage(topic: "t", payload: Array("\($0)".utf8), qos: qos) }
    }

    func take(_ state: inout ClientState) -> MQTTMessageBatch? {
        if case .resume(let batch, _) = state.pollNext() { return batch }
        return nil
    }

    @Test func writesWaitForEveryDeliveredBatch() {
        var state = ClientState(deferred: true, bufferLimit: 100, maxReadAhead: .seconds(1))
        _ = state.start()
        state.connected()
        let now = ContinuousClock.now
        #expect(state.plan(now: now).canWrite)
        _ = state.deliver(messages(3), now: now, acknowledger: acknowledger)
        #expect(!state.plan(now: now).canWrite)
        let first = take(&state)
        #expect(state.plan(now: now).canRead)  // read-ahead while the application works
        _ = state.deliver(messages(2), now: now, acknowledger: acknowledger)
        #expect(!state.plan(now: now).canRead)  // one batch waits: read no further
        let second = take(&state)
        #expect(state.plan(now: now).canRead)
        #expect(state.plan(now: now).readAheadEnds == now + .seconds(1))
        #expect(!state.plan(now: now + .seconds(2)).canRead)  // read-ahead time is over
        #expect(first?.count == 3 && second?.count == 2)
        _ = state.acknowledge(batch: first!.id)
        #expect(!state.canWrite)
        #expect(state.acknowledge(batch: second!.id) == true)
        #expect(state.canWrite)
        #expect(state.acknowledge(batch: second!.id) == false)  // idempotent
    }

    @Test func qos0BatchesDoNotHoldWrites() {
        var state = ClientState(deferred: true, bufferLimit: 100, maxReadAhead: .seconds(1))
        state.connected()
        _ = state.deliver(messages(3, qos: .atMostOnce), now: .now, acknowledger: acknowledger)
        #expect(state.canWrite)
    }

    @Test func connectionLossReleasesHeldWrites() {
        var state = ClientState(deferred: true, bufferLimit: 100, maxReadAhead: .seconds(1))
        state.connected()
        _ = state.deliver(messages(3), now: .now, acknowledger: acknowledger)
        let batch = take(&state)
        #expect(!state.canWrite)
        state.connectionLost()
        #expect(state.canWrite)
        state.connected()
        #expect(state.acknowledge(batch: batch!.id) == false)  // from the old connection: no effect
        _ = state.deliver(messages(1), now: .now, acknowledger: acknowledger)
        #expect(!state.canWrite)
    }

    @Test func bufferLimitStopsReading() {
        var state = ClientState(deferred: false, bufferLimit: 4, maxReadAhead: .seconds(1))
        state.connected()
        _ = state.deliver(messages(4), now: .now, acknowledger: acknowledger)
        #expect(state.canWrite)  // automatic acknowledgement
        #expect(!state.plan(now: .now).canRead)
        _ = take(&state)
        #expect(state.plan(now: .now).canRead)
    }
}

