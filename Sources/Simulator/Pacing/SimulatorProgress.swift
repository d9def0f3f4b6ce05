/// A snapshot of a running simulation, for the CLI's live progress line.
public struct SimulatorProgress: Sendable, Hashable {
    /// Publications the sink accepted (readings and status messages).
    public var published: Int
    /// Readings among them.
    public var readings: Int
    /// Batches the sink failed on.
    public var errors: Int
    /// Run time so far in milliseconds.
    public var elapsedMilliseconds: Int64
    /// Publications per second over the last measurement interval.
    public var perSecond: Double
    /// How far behind schedule the publisher is, in milliseconds.
    public var lagMilliseconds: Int64

    /// Creates a snapshot.
    public init(
        published: Int = 0,
        readings: Int = 0,
        errors: Int = 0,
        elapsedMilliseconds: Int64 = 0,
        perSecond: Double = 0,
        lagMilliseconds: Int64 = 0
    ) {
        self.published = published
        self.readings = readings
        self.errors = errors
        self.elapsedMilliseconds = elapsedMilliseconds
        self.perSecond = perSecond
        self.lagMilliseconds = lagMilliseconds
    }

    /// One line without terminator, e.g.
    /// `simulate  12.0s  published 12034  readings 12000  1002.5/s  errors 0`
    /// (plus `  behind 1.2s` when more than a second late).
    public var summary: String {
        var text =
            "simulate  \(Self.fixed(Double(elapsedMilliseconds) / 1000, 1))s  published \(published)"
            + "  readings \(readings)  \(Self.fixed(perSecond, 1))/s  errors \(errors)"
        if lagMilliseconds >= 1000 { text += "  behind \(Self.fixed(Double(lagMilliseconds) / 1000, 1))s" }
        return text
    }

    /// The live progress line: carriage return, the summary, padded with spaces to `width` so a
    /// shorter line fully overwrites a longer one. No newline.
    public func progressLine(width: Int = 79) -> String {
        let text = summary
        let padding = max(0, width - text.count)
        return "\r" + text + String(repeating: " ", count: padding)
    }

    /// `value` with exactly `digits` decimals, no Foundation formatting.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale)
        var fraction = String(scaled % Int64(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        let sign = value < 0 && scaled != 0 ? "-" : ""
        return digits == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(fraction)"
    }
}

/// Publications per second over a sliding window, from (elapsed, published) samples.
public struct RateMeter: Sendable {
    private var samples: [(elapsed: Int64, published: Int)] = []
    /// The window in milliseconds (default 1000).
    public let windowMilliseconds: Int64

    /// Creates a meter.
    public init(windowMilliseconds: Int64 = 1000) {
        self.windowMilliseconds = max(1, windowMilliseconds)
    }

    /// Records the running total `published` at `elapsed` ms and returns the rate per second
    /// over the last window.
    public mutating func record(published: Int, elapsedMilliseconds elapsed: Int64) -> Double {
        samples.append((elapsed, published))
        while samples.count > 2, samples[1].elapsed <= elapsed - windowMilliseconds { samples.removeFirst() }
        guard let first = samples.first, elapsed > first.elapsed else { return 0 }
        return Double(published - first.published) * 1000 / Double(elapsed - first.elapsed)
    }
}
