import ArgumentParser
import FluxgateCLI

await Fluxgate.main()
