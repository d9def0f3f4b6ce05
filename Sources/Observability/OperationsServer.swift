import Hummingbird
import Logging

/// An HTTP server with only the operational endpoints, for stages that serve nothing else
/// (ingress, windowing). The hub mounts ``ObservabilityRoutes`` into its own router instead.
///
/// Build it with ``make(routes:host:port:logger:)`` and add the result to the stage's
/// `ServiceGroup`: a Hummingbird application is a `Service` that stops on graceful shutdown.
public enum OperationsServer {
    public static func make(
        routes: ObservabilityRoutes,
        host: String = "0.0.0.0",
        port: Int,
        logger: Logger
    ) -> some ApplicationProtocol {
        let router = Router()
        routes.add(to: router)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "fluxgate"),
            logger: logger
        )
    }
}
