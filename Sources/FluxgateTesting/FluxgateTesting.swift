// The FluxgateTesting module.
