extension TelemetryConfiguration {
    /// The demo fleet's windows and rules (used when `--rules` is not given).
    ///
    /// Windows of 10 s and 1 min give live charts quickly; 5 min every 1 min smooths trends. The
    /// rules watch the metrics the simulated fleet sends (temperature, humidity, battery, co2) and
    /// device silence; thresholds sit near the edges of the simulator's normal ranges so the demo
    /// shows alerts activating and clearing.
    public static let defaultYAML = """
        # Fluxgate default windows and alert rules (docs/telemetry.md describes the format).
        windows: [10s, 1m, 5m/1m]
        lateness: 2s
        idle_grace: 1s
        rules:
          - name: overheating
            devices: "*"
            metric: temperature
            above: 30
            for: 10s
            clear: 28
            severity: critical
          - name: freezing
            devices: "*"
            metric: temperature
            below: 2
            for: 30s
            clear: 4
            severity: warning
          - name: temperature-spike
            devices: "*"
            metric: temperature
            rate_above: 0.5/s
            clear: 0.1/s
            severity: warning
          - name: humid
            devices: "*"
            metric: humidity
            above: 85
            for: 1m
            clear: 80
            severity: info
          - name: co2-high
            devices: "*"
            metric: co2
            above: 1500
            for: 30s
            clear: 1200
            severity: warning
          - name: battery-low
            devices: "*"
            metric: battery
            below: 15
            clear: 20
            severity: warning
          - name: silent
            devices: "*"
            offline: 30s
            severity: warning
        """
}
