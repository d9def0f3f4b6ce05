// The Telemetry module.
