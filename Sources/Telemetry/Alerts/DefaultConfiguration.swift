extension TelemetryConfiguration {
    /// The demo fleet's windows and rules (used when `--rules` is not given), matched to
    /// `devices/demo.yaml`.
    ///
    /// Windows of 10 s and 1 min give live charts quickly; 5 min every 1 min smooths trends. Each
    /// threshold sits between a metric's normal range and its simulated spikes, and each clear level
    /// just above the normal range, so every spike activates its alert and the next normal reading
    /// clears it (docs/simulator.md, "Deriving the expected alerts exactly").
    public static let defaultYAML = """
        # Fluxgate default windows and alert rules (format: docs/telemetry.md).
        windows: [10s, 1m, 5m/1m]
        lateness: 2s
        idle_grace: 1s
        rules:
          # Greenhouses: normal 18.8..29.2 C, spikes to 32..40 C for 45 s.
          - name: overheating
            devices: "*"
            metric: temperature
            above: 30
            for: 10s
            clear: 29.5
            severity: critical
          # Freezers: normal about -20 C, door-open spikes of +8 C for 20 s.
          - name: freezer-warm
            devices: "freezer-*"
            metric: temperature
            above: -15
            for: 10s
            clear: -17
            severity: warning
          # Any sudden temperature jump (noise changes well under 3 C/s).
          - name: temperature-jump
            devices: "*"
            metric: temperature
            rate_above: 3/s
            clear: 1/s
            severity: info
          # Pumps: vibration normally about 2.5 mm/s, spikes of +6 mm/s.
          - name: pump-vibration
            devices: "pump-*"
            metric: vibration_rms
            above: 6
            for: 2s
            clear: 5
            severity: warning
          - name: bearing-hot
            devices: "pump-*"
            metric: bearing_temp
            above: 70
            for: 1m
            clear: 65
            severity: critical
          - name: humid
            devices: "greenhouse-*"
            metric: humidity
            above: 90
            for: 1m
            clear: 85
            severity: info
          # Any device silent for 30 s (greenhouse-006 drops out for 45 s every 5 minutes).
          - name: silent
            devices: "*"
            offline: 30s
            severity: warning
        """
}
