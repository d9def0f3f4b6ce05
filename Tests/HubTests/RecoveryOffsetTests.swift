import Kafka
import Testing

@testable import Hub

@Suite("Recovery offsets and session records")
struct RecoveryOffsetTests {
    @Test("an offset round-trips through its text form")
    func roundTrip() {
        let offset = RecoveryOffset(
            source: RecordPosition(topic: 0, partition: 1, offset: 100),
            frontier: [[101, 5], [0, 0], [3, 1], [0], [4, 2, 1_000_000_007]])
        #expect(offset.encoded == "1~0.1.2s~2t.5/0.0/3.1/0/4.2.gjdgxz")
        #expect(RecoveryOffset.decode(offset.encoded) == offset)
        let current = RecoveryOffset(source: nil, frontier: [[7]])
        #expect(current.encoded == "1~-~7")
        #expect(RecoveryOffset.decode("1~-~7") == current)
    }

    @Test(
        "offsets the hub did not write are refused",
        arguments: [
            "", "1", "2~-~7", "1~-", "1~x~7", "1~0.1~7", "1~0.1.-3~7", "1~-~7.", "1~-~-1", "1~-~7/",
            "1~-~zzzzzzzzzzzzzzzzzzzz",
            String(repeating: "7", count: 20_000),
        ])
    func refused(_ text: String) {
        #expect(RecoveryOffset.decode(text) == nil)
    }

    @Test("layout fits only the same partition counts")
    func layoutFits() {
        let layout = HubTopicLayout(topics: ["a", "b"], partitionCounts: [2, 1])
        #expect(layout.fits([[0, 0], [0]]))
        #expect(!layout.fits([[0, 0], [0, 0]]))
        #expect(!layout.fits([[0, 0]]))
        #expect(KafkaRecoveryStore.covers([[3, 4], [1]], [[3, 2], [0]]))
        #expect(!KafkaRecoveryStore.covers([[3, 1], [1]], [[3, 2], [0]]))
    }

    @Test("session records round-trip; malformed ones are refused")
    func sessionRecords() {
        let record = HubSessionRecord(pid: "p1", sid: "s1", rooms: ["device:d1", "fleet"], ts: 1_764_400_000_000)
        #expect(HubSessionRecord.decode(record.encoded()) == record)
        #expect(HubSessionRecord.decode(Array(#"{"pid":"p1","sid":"s1","rooms":[1],"ts":1}"#.utf8)) == nil)
        #expect(HubSessionRecord.decode(Array(#"{"pid":"","sid":"s1","rooms":[],"ts":1}"#.utf8)) == nil)
        #expect(HubSessionRecord.decode(Array("not json".utf8)) == nil)
    }

    @Test("the session table applies records and tombstones, prunes by age and caps its size")
    func sessionTable() {
        let table = HubSessionTable(maxSessions: 2, retentionMillis: 1000)
        table.put(HubSessionRecord(pid: "a", sid: "sa", rooms: ["device:1"], ts: 100))
        table.put(HubSessionRecord(pid: "b", sid: "sb", rooms: ["device:2"], ts: 200))
        table.put(HubSessionRecord(pid: "c", sid: "sc", rooms: ["device:3"], ts: 300))
        #expect(table.session(pid: "a") == nil, "the oldest goes beyond the cap")
        #expect(table.session(pid: "c")?.sid == "sc")
        table.prune(now: 1250)
        #expect(table.session(pid: "b") == nil)
        #expect(table.session(pid: "c") != nil)
        // Records read from the sessions topic: a session, then its tombstone; positions advance.
        #expect(table.positions == nil, "incomplete until the consumer starts")
        table.start(positions: [0: 0])
        let d = HubSessionRecord(pid: "d", sid: "sd", rooms: ["fleet"], ts: 1200)
        table.apply(KafkaConsumerRecord(topic: "s", partition: 0, offset: 7, key: Array("d".utf8), value: d.encoded()))
        #expect(table.session(pid: "d") == d)
        table.apply(KafkaConsumerRecord(topic: "s", partition: 0, offset: 8, key: Array("d".utf8), value: []))
        #expect(table.session(pid: "d") == nil)
        #expect(table.positions?[0] == 9)
        // A record whose key is not its pid is ignored.
        table.apply(KafkaConsumerRecord(topic: "s", partition: 0, offset: 9, key: Array("e".utf8), value: d.encoded()))
        #expect(table.session(pid: "e") == nil && table.session(pid: "d") == nil)
        table.recordFailure(pid: "c", RecoveryFailure(reason: "retention", message: "m", devices: ["3"]))
        #expect(table.takeFailure(pid: "c")?.reason == "retention")
        #expect(table.takeFailure(pid: "c") == nil)
    }
}
