import Hummingbird
import HummingbirdTesting
import Prometheus
import Testing

@testable import Observability

@Suite struct ObservabilityRoutesTests {
    func app(_ routes: ObservabilityRoutes) -> some ApplicationProtocol {
        let router = Router()
        routes.add(to: router)
        return Application(router: router)
    }

    @Test func readinessFollowsRegisteredParts() async throws {
        let readiness = Readiness()
        let routes = ObservabilityRoutes(registry: PrometheusCollectorRegistry(), readiness: readiness)
        try await app(routes).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ok"}"#)
            }
            // Nothing registered yet: starting, not ready.
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
            readiness.register("kafka")
            readiness.ready("mqtt")
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body) == #"{"status":"not-ready","checks":{"kafka":"starting","mqtt":"ok"}}"#)
            }
            readiness.ready("kafka")
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"status":"ready","checks":{"kafka":"ok","mqtt":"ok"}}"#)
            }
            readiness.notReady("mqtt", reason: "unreachable")
            try await client.execute(uri: "/readyz", method: .get) { #expect($0.status == .serviceUnavailable) }
        }
    }

    @Test func metricsExposeTheRegistry() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(name: "fluxgate_test_total", labels: [("reason", "x")]).increment(by: Int64(3))
        let routes = ObservabilityRoutes(registry: registry, readiness: Readiness())
        try await app(routes).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(String(buffer: response.body).contains(#"fluxgate_test_total{reason="x"} 3"#))
            }
        }
    }
}
