// The demo fleet, built in so `fluxgate demo` works from any directory. It must stay identical to
// devices/demo.yaml (FleetProfileParserTests checks it): edit that file, then paste it here.
extension FleetProfile {
    /// The text of `devices/demo.yaml`.
    public static let demoYAML = """
        # The fleet `fluxgate demo` simulates. Format: docs/simulator.md.
        #
        # Tuned to the default alert rules (Sources/Telemetry/Alerts/DefaultConfiguration.swift): outside
        # the injected events every metric stays clear of every threshold, and every event crosses its
        # rule's threshold for longer than the rule's `for`, so the alerts are exactly the events
        # (Tests/SimulatorTests/Golden/DemoAlertsGoldenTests.swift checks it). On the dashboards:
        #   - greenhouse-002 and greenhouse-005 overheat (32-40 °C) for 45 s every 3 minutes, from minute 1
        #     (overheating, and temperature-jump at the start of each);
        #   - greenhouse-003's humidity rises above 90 % for 90 s every 7 minutes, from minute 4 (humid);
        #   - greenhouse-006 goes offline for 45 s every 5 minutes, from minute 2 (silent);
        #   - freezer doors are left open now and then (+8 °C for 20 s: freezer-warm, temperature-jump),
        #     pumps shake now and then (+6 mm/s for 5 s: pump-vibration);
        #   - a few readings arrive late and out of order, the odd humidity sensor gets stuck.
        description: Greenhouses, cold-storage freezers and pumps
        seed: 20261129
        types:
          - name: greenhouse
            description: Climate sensors in the greenhouses
            count: 6
            id: "greenhouse-{n:03}"
            rate: 1
            metrics:
              - name: temperature
                unit: celsius
                baseline: 24
                daily: { amplitude: 4, period: 10m }     # a short "day" so the demo moves
                noise: 0.3
                decimals: 2
                spikes: { every: 3m, at: 1m, duration: 45s, magnitude: 12, devices: [2, 5] }
              - name: humidity
                unit: percent
                baseline: 65
                daily: { amplitude: 10, period: 10m, phase: 180 }
                noise: 1
                decimals: 1
                min: 0
                max: 100
                spikes: { every: 7m, at: 4m, duration: 90s, magnitude: 36, devices: [3] }
                stuck: { probability: 0.0005, duration: 30s }
            offline: { every: 5m, at: 2m, duration: 45s, devices: [6] }
            late: { fraction: 0.02, maxDelay: 4s }

          - name: freezer
            description: Cold-storage freezers; doors are sometimes left open
            count: 4
            id: "freezer-{n:02}"
            rate: 0.5
            metrics:
              - name: temperature
                unit: celsius
                baseline: -20
                noise: 0.2
                drift: 0.05
                spikes: { probability: 0.002, duration: 20s, magnitude: 8 }
              - name: power.kw
                baseline: 1.8
                noise: { stddev: 0.05, clamp: 3 }
                decimals: 3

          - name: pump
            description: Vibration sensors on the irrigation pumps
            count: 3
            id: "pump-{n}"
            rate: 2
            metrics:
              - name: vibration_rms
                unit: mm/s
                baseline: 2.5
                noise: 0.3
                min: 0
                spikes: { probability: 0.0015, duration: 5s, magnitude: 6 }
              - name: rpm
                baseline: 1480
                noise: 5
                decimals: 0
              - name: bearing_temp
                baseline: 45
                drift: 0.5
                noise: 0.2
            late: { fraction: 0.01, maxDelay: 2s }
        
        """

    /// The demo fleet (``demoYAML``, parsed and validated).
    public static func demo() throws(ProfileError) -> FleetProfile {
        try FleetProfileParser.parse(yaml: demoYAML, file: "devices/demo.yaml (built in)")
    }
}
