import SocketIO
import Telemetry
import Testing

@testable import Hub

@Suite struct HubStateTests {
    func state(_ configure: (inout HubConfiguration) -> Void = { _ in }) -> HubState {
        var configuration = HubConfiguration()
        configure(&configuration)
        return HubState(limits: .init(configuration))
    }

    func reading(_ ts: Int64, seq: UInt64?) -> Reading {
        Reading(device: DeviceID("d")!, ts: ts, seq: seq, metrics: [Metric("t", 1)])
    }

    @Test func readingsStayOrderedDeduplicatedAndCapped() {
        var s = state { $0.maxReadingsPerDevice = 10 }
        let now: Int64 = 1_000_000
        for ts in [5, 3, 4, 4, 9] as [Int64] { _ = s.apply(reading: reading(now + ts, seq: UInt64(ts)), json: .null, now: now) }
        #expect(s.devices[DeviceID("d")!]!.readings.map(\.ts) == [3, 4, 5, 9].map { now + $0 })
        // Far out of order (more than a window back) still lands in place.
        for i in 0..<100 { _ = s.apply(reading: reading(now + 100 + Int64(i), seq: nil), json: .null, now: now) }
        _ = s.apply(reading: reading(now + 150, seq: 7), json: .null, now: now)
        let all = s.devices[DeviceID("d")!]!.readings.map(\.ts)
        #expect(all == all.sorted())
        let history = s.history(of: DeviceID("d")!, since: 0, now: now)
        #expect(history["readings"]?.arrayValue?.count == 10)
    }

    @Test func alertMergeKeepsFurthestState() {
        var s = state()
        func transition(_ state: AlertState, _ ts: Int64) -> AlertTransition {
            AlertTransition(
                id: "a", device: DeviceID("d")!, rule: "r", metric: "t", severity: .warning, state: state, value: 1,
                threshold: 0, ts: ts, message: "m")
        }
        _ = s.apply(alert: transition(.cleared, 10), json: "cleared")
        _ = s.apply(alert: transition(.acknowledged, 50), json: "ack")
        #expect(s.alerts["a"]?.transition.state == .cleared)
        _ = s.apply(alert: transition(.cleared, 20), json: "cleared2")
        #expect(s.alerts["a"]?.transition.ts == 20)
        #expect(s.activeAlertCount(of: DeviceID("d")!) == 0)
    }

    @Test func anAcknowledgementThatOvertakesItsAlertIsAppliedWhenTheAlertArrives() {
        var s = state()
        let active = AlertTransition(
            id: "b", device: DeviceID("d")!, rule: "r", metric: "t", severity: .critical, state: .active, value: 31,
            threshold: 30, ts: 100, message: "m")
        #expect(s.acknowledge(id: "b", by: "alice", ts: 150).isEmpty, "unknown yet: held, nothing to send")
        let events = s.apply(alert: active, json: .object([("id", .string("b")), ("state", .string("active"))]))
        #expect(events.count == 2, "the active alert, then its acknowledgement")
        #expect(s.alerts["b"]?.transition.state == .acknowledged)
        #expect(s.alerts["b"]?.transition.ackedBy == "alice")
        #expect(s.pendingAcknowledgements.isEmpty)
        #expect(s.acknowledge(id: "b", by: "bob", ts: 160).isEmpty, "already acknowledged")
    }

    @Test func devicesGoOfflineAfterTheTimeout() {
        var s = state { $0.offlineTimeout = .seconds(30) }
        let events = s.apply(reading: reading(1_000_000, seq: 1), json: .null, now: 1_000_000)
        #expect(events.map(\.name) == [.reading, .deviceStatus])
        #expect(s.tick(now: 1_020_000).isEmpty)
        #expect(s.tick(now: 1_031_000).map(\.name) == [.deviceStatus])
        #expect(s.devices[DeviceID("d")!]?.status == .offline)
        // A stale reading (replayed history) does not bring it back online.
        #expect(s.apply(reading: reading(1_000_500, seq: 2), json: .null, now: 1_040_000).map(\.name) == [.reading])
    }

    @Test(arguments: [
        (#"{"devices":["a","b"]}"#, true),
        (#"{"devices":["*"],"events":["alert"]}"#, true),
        (#"{"devices":[]}"#, false),
        (#"{"devices":["*","a"]}"#, false),
        (#"{"devices":["a"],"events":["alert"]}"#, false),
        (#"{"devices":["*"],"events":["bogus"]}"#, false),
        (#"{"devices":["a b"]}"#, false),
        (#"["a"]"#, false),
    ])
    func subscriptionValidation(payload: String, valid: Bool) throws {
        let value = try JSONParser().parse(payload)
        let result = HubSocketHandlers.parseSubscription(value)
        if case .success = result { #expect(valid) } else { #expect(!valid) }
    }

    @Test(arguments: [
        ("/", "index.html"), ("/js/hub.js", "js/hub.js"), ("/dev/fake_hub.py", nil), ("/test/x.html", nil),
        ("/js/../x", nil), ("/js/..%2fx", nil), ("/.git/config", nil), ("/js//x.js", nil),
    ] as [(String, String?)])
    func staticPaths(path: String, expected: String?) {
        #expect(HubStaticFiles.relativePath(forURLPath: path) == expected)
    }
}
