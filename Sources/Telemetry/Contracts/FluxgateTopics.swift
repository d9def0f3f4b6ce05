/// The Kafka topics of one Fluxgate deployment, all named with one prefix (default `fluxgate.`).
///
/// Every record is keyed by device id, so one device's records stay in order on one partition.
public struct FluxgateTopics: Sendable, Hashable {
    /// The prefix every topic name starts with.
    public var prefix: String

    /// The default prefix, `fluxgate.`.
    public static let defaultPrefix = "fluxgate."

    public init(prefix: String = FluxgateTopics.defaultPrefix) {
        self.prefix = prefix
    }

    /// Normalized readings `{"device","ts","seq","metrics"}`, header `fluxgate-received-at`.
    public var readings: String { prefix + "readings" }
    /// Window statistics, one record per device, metric and closed or updated window.
    public var stats: String { prefix + "stats" }
    /// Alert transitions (`active`, `cleared`, `acknowledged`).
    public var alerts: String { prefix + "alerts" }
    /// The original bytes of every rejected input, header `fluxgate-error` with the reason code.
    public var deadLetter: String { prefix + "deadletter" }
    /// What operators send from dashboards: alert acknowledgements and notes.
    public var operatorActions: String { prefix + "operator" }
    /// Device status changes `{"device","status","ts"}` from `devices/{id}/status`.
    public var deviceStatus: String { prefix + "status" }

    /// Every topic, for creating them at start-up.
    public var all: [String] { [readings, stats, alerts, deadLetter, operatorActions, deviceStatus] }

    /// Whether `prefix` makes legal Kafka topic names: `[A-Za-z0-9._-]`, total length <= 249.
    public var isValid: Bool {
        prefix.utf8.count <= 249 - "deadletter".count
            && prefix.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2E || byte == 0x5F || byte == 0x2D
            }
    }
}
