import Hummingbird
import Prometheus

/// The operational endpoints every stage serves.
///
/// - `GET /healthz`: 200 while the process runs and can answer (liveness).
/// - `GET /readyz`: 200 when every registered part is ready, else 503 naming the parts that are
///   not (readiness: take the instance out of rotation, do not restart it).
/// - `GET /metrics`: the Prometheus text exposition of `registry`.
public struct ObservabilityRoutes: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let readiness: Readiness

    public init(registry: PrometheusCollectorRegistry, readiness: Readiness) {
        self.registry = registry
        self.readiness = readiness
    }

    /// Adds the three routes to `router`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        let registry = self.registry
        let readiness = self.readiness
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("readyz") { _, _ in
            let notReady = readiness.notReady
            if readiness.isReady {
                return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
            }
            let reason = notReady.isEmpty ? "starting" : "not ready: " + notReady.joined(separator: ", ")
            return Response(
                status: .serviceUnavailable,
                headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: reason + "\n"))
            )
        }
        router.get("metrics") { _, _ in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
    }
}
