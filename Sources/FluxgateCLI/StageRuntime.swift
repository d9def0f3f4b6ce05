import Logging
import Metrics
import Observability
import Prometheus
import ServiceLifecycle
import UnixSignals

/// What every stage process shares: one Prometheus registry behind swift-metrics, readiness,
/// and a `ServiceGroup` that stops on SIGTERM or SIGINT.
struct StageRuntime: Sendable {
    let registry: PrometheusCollectorRegistry
    let readiness = Readiness()
    let logger: Logger

    /// The process-wide registry; swift-metrics is bootstrapped with it exactly once.
    private static let sharedRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    init(logger: Logger) {
        self.registry = Self.sharedRegistry
        self.logger = logger
    }

    var routes: ObservabilityRoutes { ObservabilityRoutes(registry: registry, readiness: readiness) }

    /// Runs `services` in order (so they stop in reverse order) plus the operations HTTP server
    /// on `httpPort` when given, until a signal or a failure. A service that returns early stops
    /// the group gracefully; one that throws stops it too and the error is rethrown.
    func run(_ services: [any Service], httpPort: Int?) async throws {
        var configured = services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0,
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup
            )
        }
        if let httpPort {
            let server = OperationsServer.make(routes: routes, port: httpPort, logger: logger)
            configured.insert(.init(service: server, failureTerminationBehavior: .gracefullyShutdownGroup), at: 0)
        }
        var configuration = ServiceGroupConfiguration(
            services: configured,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(9)
        try await ServiceGroup(configuration: configuration).run()
    }
}
