import FluxgateCLI

await Fluxgate.start()
