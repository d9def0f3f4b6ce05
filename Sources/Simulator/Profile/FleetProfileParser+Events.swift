import Yams

/// Events (`spikes`, `stuck`, `offline`): a probability or a schedule, a duration, devices.
extension FleetProfileParser {
    static func parseEvent(
        _ node: Node,
        location: ProfileLocation,
        defaultDuration: Int64,
        extraFields: [String]
    ) throws(ProfileError) -> (event: EventProfile, reader: MappingReader) {
        let reader = try MappingReader(node, at: location, what: "'\(location.fieldPrefix ?? "event")'")
        try reader.rejectUnknown(["probability", "every", "at", "duration", "devices"] + extraFields)
        let duration = try reader.duration("duration", minimum: 1) ?? defaultDuration
        let trigger: EventProfile.Trigger
        switch (reader.has("probability"), reader.has("every")) {
        case (true, true):
            throw location.error(
                .conflictingFields,
                reader.value("every"),
                field: location.field("every"),
                "give either 'probability' (random, per reading) or 'every' (a schedule), not both"
            )
        case (false, false):
            throw location.error(
                .missingField,
                node,
                field: location.field("probability"),
                "say when events start: 'probability: 0.001' (per reading) or 'every: 10m' (with optional 'at: 2m')"
            )
        case (true, false):
            if reader.has("at") {
                throw location.error(
                    .conflictingFields,
                    reader.value("at"),
                    field: location.field("at"),
                    "'at' only goes with 'every'; remove it or replace 'probability' with 'every'"
                )
            }
            let probability = try reader.double("probability", 0...1, rangeText: "a probability from 0 to 1") ?? 0
            trigger = .probability(probability)
        case (false, true):
            let every = try reader.duration("every", minimum: 1) ?? 1
            let at = try reader.duration("at") ?? 0
            guard duration < every else {
                throw location.error(
                    .conflictingFields,
                    reader.value("duration") ?? reader.value("every"),
                    field: location.field("duration"),
                    (reader.has("duration") ? "must" : "the default duration (\(DurationText.format(duration))) must")
                        + " be shorter than 'every' (\(DurationText.format(every))) so events do not overlap; set 'duration'"
                )
            }
            trigger = .schedule(everyMilliseconds: every, atMilliseconds: at)
        }
        var devices: Set<Int>?
        if let items = try reader.sequence("devices") {
            var set = Set<Int>()
            for item in items {
                guard let number = item.scalar.flatMap({ Int($0.string) }) else {
                    throw location.error(
                        .wrongType,
                        item,
                        field: location.field("devices"),
                        "must list device numbers (the n of the id pattern), got \(describe(item))"
                    )
                }
                set.insert(number)
            }
            devices = set
        }
        return (EventProfile(trigger: trigger, durationMilliseconds: duration, devices: devices), reader)
    }
}
