import Foundation
import Testing

@testable import Telemetry

@Suite struct AlertEvaluatorTests {
    let device = DeviceID("greenhouse-1")!

    func reading(_ ts: Int64, _ value: Double, metric: String = "temperature") -> Reading {
        Reading(device: device, ts: ts, metrics: [Metric(metric, value)])
    }

    static let overheating = AlertRule(
        name: "overheating", metric: "temperature", condition: .above(30), holdFor: .seconds(10), clear: 28,
        severity: .critical)

    @Test func holdsForThenActivatesAndClearsWithHysteresis() throws {
        var evaluator = AlertEvaluator(rules: [Self.overheating])
        #expect(evaluator.evaluate(reading(0, 31), arrivedAt: 0).isEmpty)  // pending
        #expect(evaluator.evaluate(reading(5_000, 32), arrivedAt: 0).isEmpty)
        let active = evaluator.evaluate(reading(10_000, 33), arrivedAt: 0)
        #expect(active.count == 1)
        let alert = try #require(active.first)
        #expect(alert.state == .active && alert.value == 33 && alert.threshold == 30 && alert.ts == 10_000)
        #expect(alert.id == AlertTransition.alertID(device: device, rule: "overheating", activatedAt: 10_000))
        #expect(alert.id.count == 16)
        #expect(alert.message.contains("above 30"))
        #expect(evaluator.evaluate(reading(11_000, 29), arrivedAt: 0).isEmpty)  // between clear and threshold
        #expect(evaluator.evaluate(reading(12_000, 40), arrivedAt: 0).isEmpty)  // still the same alert
        #expect(evaluator.activeCount == 1)
        let cleared = evaluator.evaluate(reading(13_000, 28), arrivedAt: 0)
        #expect(cleared.map(\.state) == [.cleared])
        #expect(cleared.first?.id == alert.id && cleared.first?.threshold == 28)
        #expect(evaluator.activeCount == 0)
    }

    @Test func pendingResetsWhenTheConditionBreaks() {
        var evaluator = AlertEvaluator(rules: [Self.overheating])
        _ = evaluator.evaluate(reading(0, 31), arrivedAt: 0)
        _ = evaluator.evaluate(reading(9_000, 30), arrivedAt: 0)  // not above: reset
        #expect(evaluator.evaluate(reading(10_000, 31), arrivedAt: 0).isEmpty)
        #expect(evaluator.evaluate(reading(19_999, 31), arrivedAt: 0).isEmpty)
        #expect(evaluator.evaluate(reading(20_000, 31), arrivedAt: 0).count == 1)
    }

    @Test func outOfOrderAndDuplicateReadingsAreIgnored() {
        var evaluator = AlertEvaluator(rules: [AlertRule(name: "hot", metric: "temperature", condition: .above(30))])
        #expect(evaluator.evaluate(reading(1_000, 35), arrivedAt: 0).count == 1)
        #expect(evaluator.evaluate(reading(500, 10), arrivedAt: 0).isEmpty)  // older: would clear, ignored
        #expect(evaluator.evaluate(reading(1_000, 10), arrivedAt: 0).isEmpty)  // duplicate ts, ignored
        #expect(evaluator.evaluate(reading(1_001, 10), arrivedAt: 0).map(\.state) == [.cleared])
    }

    @Test func acknowledgementIsOnceAndKeepsTheAlertActive() throws {
        var evaluator = AlertEvaluator(rules: [AlertRule(name: "hot", metric: "temperature", condition: .above(30))])
        let first = evaluator.evaluate(reading(1_000, 35), arrivedAt: 0)
        let id = try #require(first.first?.id)
        let acknowledged = evaluator.acknowledge(id: id, at: 2_000)
        let ack = try #require(acknowledged)
        #expect(ack.state == .acknowledged && ack.id == id && ack.ts == 2_000 && ack.value == 35)
        #expect(evaluator.acknowledge(id: id, at: 2_500) == nil)
        #expect(evaluator.acknowledge(id: "0000000000000000", at: 2_500) == nil)
        #expect(evaluator.activeAlerts(device: device) == ["hot": id])
        #expect(evaluator.evaluate(reading(3_000, 20), arrivedAt: 0).map(\.state) == [.cleared])
        #expect(evaluator.acknowledge(id: id, at: 4_000) == nil)
    }

    @Test func offlineRulesFollowTheWallClock() throws {
        let rule = AlertRule(name: "silent", devices: "greenhouse-*", metric: nil, condition: .offline(.seconds(30)))
        var evaluator = AlertEvaluator(rules: [rule])
        #expect(evaluator.advance(now: 1_000_000).isEmpty)  // never seen: not watched
        _ = evaluator.evaluate(reading(5, 20), arrivedAt: 100_000)
        _ = evaluator.evaluate(
            Reading(device: DeviceID("barn-1")!, ts: 5, metrics: [Metric("t", 1)]), arrivedAt: 100_000)
        #expect(evaluator.advance(now: 129_999).isEmpty)
        let active = evaluator.advance(now: 200_000)
        #expect(active.count == 1)
        #expect(active.first?.ts == 130_000 && active.first?.metric == nil && active.first?.device == device)
        #expect(evaluator.advance(now: 300_000).isEmpty)
        let cleared = evaluator.evaluate(reading(6, 20), arrivedAt: 300_001)
        #expect(cleared.map(\.state) == [.cleared] && cleared.first?.id == active.first?.id)
    }

    @Test func rateRulesUseConsecutiveReadings() {
        let rule = AlertRule(name: "spike", metric: "temperature", condition: .rateAbove(perSecond: 0.5), clear: 0.1)
        var evaluator = AlertEvaluator(rules: [rule])
        #expect(evaluator.evaluate(reading(0, 20), arrivedAt: 0).isEmpty)  // no previous reading
        #expect(evaluator.evaluate(reading(10_000, 24), arrivedAt: 0).isEmpty)  // 0.4/s
        let active = evaluator.evaluate(reading(12_000, 26), arrivedAt: 0)  // 1/s
        #expect(active.map(\.state) == [.active] && active.first?.value == 1)
        #expect(evaluator.evaluate(reading(14_000, 26.4), arrivedAt: 0).isEmpty)  // 0.2/s, above clear
        #expect(evaluator.evaluate(reading(16_000, 26.5), arrivedAt: 0).map(\.state) == [.cleared])  // 0.05/s
    }

    @Test func onlyMatchingDevicesAndMetrics() {
        let rule = AlertRule(name: "cold", devices: "barn-*", metric: "temperature", condition: .below(0))
        var evaluator = AlertEvaluator(rules: [rule])
        #expect(evaluator.evaluate(reading(1, -5), arrivedAt: 0).isEmpty)
        let barn = Reading(
            device: DeviceID("barn-2")!, ts: 1, metrics: [Metric("humidity", -5), Metric("temperature", -1)])
        #expect(evaluator.evaluate(barn, arrivedAt: 0).map(\.state) == [.active])
    }

    @Test func transitionsRoundTripAsJSON() throws {
        let transition = AlertTransition(
            id: "0123456789abcdef", device: device, rule: "overheating", metric: "temperature", severity: .critical,
            state: .active, value: 31.5, threshold: 30, ts: 1_764_400_000_000, message: "temperature \"31.5\" above 30")
        let bytes = transition.encoded()
        #expect(try AlertTransition.decode(bytes) == transition)
        #expect(
            String(decoding: bytes, as: UTF8.self).hasPrefix(
                #"{"id":"0123456789abcdef","device":"greenhouse-1","rule":"overheating","metric":"temperature","severity":"critical","state":"active","value":31.5,"threshold":30.0,"ts":1764400000000,"message":"#
            ))
        var offline = transition
        offline.metric = nil
        #expect(try AlertTransition.decode(offline.encoded()) == offline)
        let object = try JSONSerialization.jsonObject(with: Data(offline.encoded())) as? [String: Any]
        #expect(object?["metric"] is NSNull)
        #expect(throws: ReadingRejection.self) { try AlertTransition.decode(Array(#"{"id":"x"}"#.utf8)) }
    }

    // MARK: Property test against a naive recomputation

    /// The expected transitions, recomputed offline from the in-order readings: a run of breaching
    /// readings starting at index j activates at the first i with ts_i - ts_j >= for; an active alert
    /// clears at the first later reading at or past the clear level.
    static func naive(_ values: [(Int64, Double)], rule: AlertRule, device: DeviceID) -> [(AlertState, Int64, String)] {
        var inOrder: [(Int64, Double)] = []
        for v in values where v.0 > (inOrder.last?.0 ?? .min) { inOrder.append(v) }
        guard case .above(let threshold) = rule.condition else { return [] }
        let clear = rule.clearLevel
        var output: [(AlertState, Int64, String)] = []
        var i = 0
        while i < inOrder.count {
            // Find the next breach run.
            guard inOrder[i].1 > threshold else {
                i += 1
                continue
            }
            let runStart = inOrder[i].0
            var activation: Int? = nil
            var k = i
            while k < inOrder.count, inOrder[k].1 > threshold {
                if inOrder[k].0 - runStart >= rule.holdFor.milliseconds {
                    activation = k
                    break
                }
                k += 1
            }
            guard let a = activation else {
                i = k
                continue
            }
            let id = AlertTransition.alertID(device: device, rule: rule.name, activatedAt: inOrder[a].0)
            output.append((.active, inOrder[a].0, id))
            guard let c = inOrder[(a + 1)...].firstIndex(where: { $0.1 <= clear }) else { return output }
            output.append((.cleared, inOrder[c].0, id))
            i = c + 1
        }
        return output
    }

    @Test(arguments: 0..<40)
    func matchesANaiveRecomputation(seed: Int) throws {
        var rng = SeededGenerator(seed: UInt64(seed) &+ 1_000)
        let rule = AlertRule(
            name: "r", metric: "temperature", condition: .above(30),
            holdFor: TimeSpan(milliseconds: Int64([0, 1_000, 2_500][seed % 3])), clear: [30, 28, 25][seed / 3 % 3])
        var values: [(Int64, Double)] = []
        var clock: Int64 = 0
        var level = 28.0
        for _ in 0..<300 {
            clock += Int64.random(in: 1...1_000, using: &rng)
            level = min(40, max(15, level + Double.random(in: -2...2, using: &rng) + (30 - level) * 0.1))
            let ts = Int.random(in: 0..<8, using: &rng) == 0 ? clock - Int64.random(in: 0...5_000, using: &rng) : clock
            values.append((ts, level.rounded()))
        }
        var evaluator = AlertEvaluator(rules: [rule])
        var got: [AlertTransition] = []
        for (i, (ts, value)) in values.enumerated() {
            got += evaluator.evaluate(reading(ts, value), arrivedAt: Int64(i))
            if i == 150 {
                evaluator = try JSONDecoder().decode(AlertEvaluator.self, from: JSONEncoder().encode(evaluator))
            }
        }
        let expected = Self.naive(values, rule: rule, device: device)
        #expect(expected.count >= 1, "the random walk should cross the threshold")
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) {
            #expect(g.state == e.0 && g.ts == e.1 && g.id == e.2)
        }
        // Never two active alerts for one device and rule.
        var open = false
        for t in got {
            #expect(open == (t.state == .cleared))
            open = t.state == .active
        }
    }
}

@Suite struct OperatorAndStatusRecordTests {
    @Test func operatorRecordsRoundTrip() throws {
        let device = DeviceID("greenhouse-1")!
        let records: [OperatorRecord] = [
            .acknowledgement(id: "9f3c2a7d1e0b4c58", device: device, by: "alice", ts: 1_764_400_012_000),
            .acknowledgement(id: "9f3c2a7d1e0b4c58", device: device, by: nil, ts: 1),
            .note(id: "n-3-1042", device: device, text: "Vent 3 \"stuck\"\n😀", author: "alice", ts: 1_764_400_013_000),
        ]
        for record in records {
            #expect(try OperatorRecord.decode(record.encoded()) == record)
        }
        #expect(
            String(decoding: records[0].encoded(), as: UTF8.self)
                == #"{"type":"ack","id":"9f3c2a7d1e0b4c58","device":"greenhouse-1","by":"alice","ts":1764400012000}"#)
        for bad in [
            #"{"type":"ack"}"#, #"{"type":"x","id":"a","device":"d","ts":1}"#,
            #"{"type":"note","id":"a","device":"d","ts":1,"text":""}"#, "[]",
        ] {
            #expect(throws: ReadingRejection.self) { try OperatorRecord.decode(Array(bad.utf8)) }
        }
    }

    @Test func acknowledgementCarriesTheOperator() throws {
        let device = DeviceID("d")!
        var evaluator = AlertEvaluator(rules: [AlertRule(name: "hot", metric: "t", condition: .above(1))])
        let active = evaluator.evaluate(Reading(device: device, ts: 1, metrics: [Metric("t", 2)]), arrivedAt: 0)
        let id = try #require(active.first?.id)
        let ack = evaluator.acknowledge(id: id, at: 5, by: "alice")
        #expect(ack?.ackedBy == "alice")
        let cleared = evaluator.evaluate(Reading(device: device, ts: 2, metrics: [Metric("t", 0)]), arrivedAt: 0)
        #expect(cleared.first?.ackedBy == "alice")
        let bytes = try #require(cleared.first).encoded()
        #expect(String(decoding: bytes, as: UTF8.self).hasSuffix(#","ackedBy":"alice"}"#))
        #expect(try AlertTransition.decode(bytes) == cleared.first)
    }

    @Test func statusRecordsRoundTrip() throws {
        let record = DeviceStatusRecord(device: DeviceID("d1")!, status: .offline, ts: 1_764_400_030_000)
        #expect(
            String(decoding: record.encoded(), as: UTF8.self)
                == #"{"device":"d1","status":"offline","ts":1764400030000}"#)
        #expect(try DeviceStatusRecord.decode(record.encoded()) == record)
        #expect(throws: ReadingRejection.self) {
            try DeviceStatusRecord.decode(Array(#"{"device":"d1","status":"away","ts":1}"#.utf8))
        }
    }

    @Test func replacingRulesClearsAlertsOfChangedRules() throws {
        let device = DeviceID("d")!
        let hot = AlertRule(name: "hot", metric: "t", condition: .above(1))
        let cold = AlertRule(name: "cold", metric: "t", condition: .below(5))
        var evaluator = AlertEvaluator(rules: [hot, cold])
        let active = evaluator.evaluate(Reading(device: device, ts: 1, metrics: [Metric("t", 2)]), arrivedAt: 0)
        #expect(active.map(\.rule) == ["hot", "cold"])
        var changedHot = hot
        changedHot.condition = .above(10)
        let cleared = evaluator.replaceRules([changedHot, cold], at: 50)
        #expect(cleared.map(\.rule) == ["hot"] && cleared.first?.state == .cleared && cleared.first?.ts == 50)
        #expect(cleared.first?.id == active.first?.id)
        #expect(evaluator.activeAlerts(device: device).keys.sorted() == ["cold"])
        #expect(evaluator.evaluate(Reading(device: device, ts: 2, metrics: [Metric("t", 2)]), arrivedAt: 0).isEmpty)
    }
}
