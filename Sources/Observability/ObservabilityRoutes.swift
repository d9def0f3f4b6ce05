import Hummingbird
import Prometheus

/// The operational endpoints every stage serves.
///
/// - `GET /healthz`: `200 {"status":"ok"}` while the process can answer (liveness).
/// - `GET /readyz`: `200 {"status":"ready","checks":{...}}` when every registered check is
///   ok, else `503` with `"status":"not-ready"` and each failing check's short reason
///   (readiness: take the instance out of rotation, do not restart it).
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
            Self.json(.ok, #"{"status":"ok"}"#)
        }
        router.get("readyz") { _, _ in
            let ready = readiness.isReady
            let checks = readiness.report.sorted { $0.key < $1.key }
                .map { "\(Self.quoted($0.key)):\(Self.quoted($0.value))" }
                .joined(separator: ",")
            return Self.json(
                ready ? .ok : .serviceUnavailable,
                #"{"status":"\#(ready ? "ready" : "not-ready")","checks":{\#(checks)}}"#
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

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: body))
        )
    }

    /// A JSON string literal for check names and reasons (plain ASCII words in practice).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20: result += "?"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
