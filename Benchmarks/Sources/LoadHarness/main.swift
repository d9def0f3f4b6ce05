// Load harness entry point: see the subcommands.
if CommandLine.arguments.dropFirst().first == "kafka" { await KafkaBenchmark.run(arguments: Array(CommandLine.arguments.dropFirst(2))) }
if CommandLine.arguments.dropFirst().first == "mqtt" { await MQTTBenchmark.run(arguments: Array(CommandLine.arguments.dropFirst(2))) }
