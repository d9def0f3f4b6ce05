import Testing

@testable import Telemetry

@Suite struct RFC3339Tests {
    @Test(
        arguments: [
            ("1970-01-01T00:00:00Z", 0),
            ("2025-11-29T07:06:40Z", 1_764_400_000_000),
            ("2025-11-29t07:06:40z", 1_764_400_000_000),
            ("2025-11-29T07:06:40.1Z", 1_764_400_000_100),
            ("2025-11-29T07:06:40.12Z", 1_764_400_000_120),
            ("2025-11-29T07:06:40.123Z", 1_764_400_000_123),
            ("2025-11-29T07:06:40.123999999Z", 1_764_400_000_123),
            ("2025-11-29T09:06:40+02:00", 1_764_400_000_000),
            ("2025-11-29T01:36:40.5-05:30", 1_764_400_000_500),
            ("2025-11-29T07:06:40-00:00", 1_764_400_000_000),
            ("2025-11-30T06:06:40+23:59", 1_764_400_000_000 - 59 * 60_000),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000),
            ("2000-02-29T23:59:59.999Z", 951_868_799_999),
            ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
            ("1969-12-31T23:59:59Z", -1000),
            ("1970-01-01T01:00:00+01:00", 0),
        ] as [(String, Int64)])
    func parses(text: String, expected: Int64) {
        #expect(RFC3339.parse(text) == expected)
    }

    @Test(arguments: [
        "2025-11-29 07:06:40Z", "2025-11-29T07:06:40", "2025-11-29T07:06:40.Z", "2025-11-29T07:06:40.123",
        "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-13-01T00:00:00Z",
        "2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z", "2025-11-29T24:00:00Z", "2025-11-29T23:60:00Z",
        "2025-12-31T23:59:60Z", "2025-11-29T07:06:40+24:00", "2025-11-29T07:06:40+02:60", "2025-11-29T07:06:40+0200",
        "2025-11-29T07:06:40+02", "25-11-29T07:06:40Z", "2025-1-29T07:06:40Z", "2025-11-29T7:06:40Z",
        "2025-11-29T07:06:40Zx", "2025-11-29T07:06:40.12a4Z", "+2025-11-29T07:06:40Z", "", "2025-11-29",
        "2025-11-29T07:06:40ZZ", "２０２５-11-29T07:06:40Z",
    ])
    func rejects(text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func formatsAndParsesBack() {
        var rng = SeededGenerator(seed: 3339)
        for _ in 0..<2000 {
            let ms = Int64.random(in: 0...253_402_300_799_999, using: &rng)
            let text = RFC3339.format(ms)
            #expect(RFC3339.parse(text) == ms, "\(text)")
        }
        #expect(RFC3339.format(1_764_400_000_123) == "2025-11-29T07:06:40.123Z")
    }

    @Test func agreesWithDayArithmeticAcrossCenturies() {
        // daysFromCivil and civilFromDays are inverse over the whole supported range.
        var day = RFC3339.daysFromCivil(year: 0, month: 1, day: 1)
        let last = RFC3339.daysFromCivil(year: 9999, month: 12, day: 31)
        while day <= last {
            let (y, m, d) = RFC3339.civilFromDays(day)
            #expect(RFC3339.daysFromCivil(year: y, month: m, day: d) == day)
            #expect(d <= RFC3339.daysInMonth(year: y, month: m))
            day += 97
        }
    }
}
