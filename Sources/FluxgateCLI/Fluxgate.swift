import ArgumentParser

/// The `fluxgate` command: every stage of the pipeline, the demo and the tools, in one executable.
public struct Fluxgate: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fluxgate",
        abstract: "Real-time IoT telemetry: MQTT in, Kafka in the middle, Socket.IO dashboards out.",
        discussion: """
            Every flag also has a FLUXGATE_* environment variable and a key in the YAML file given
            with --config; precedence is flag > environment > file > default.
            """,
        subcommands: []
    )

    public init() {}
}
