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
        subcommands: [
            IngressCommand.self, WindowingCommand.self, HubCommand.self, DevKafkaCommand.self, SimulateCommand.self, DemoCommand.self,
            DeadLetterCommand.self,
        ]
    )

    public init() {}
}

extension Fluxgate {
    /// Parses the process arguments and runs the chosen subcommand asynchronously.
    ///
    /// (Calling `main()` from a library-defined root command can resolve to the synchronous
    /// overload, which refuses asynchronous commands; this spells the asynchronous path out.)
    public static func start() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
