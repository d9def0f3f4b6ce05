// Load harness entry point: see the subcommands.
