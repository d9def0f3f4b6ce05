import Hummingbird
import SocketIO
import Telemetry

/// JSON responses of `/api/*` (hub-api.md 2).
enum HubAPIResponses {
    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: value.jsonText)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) -> Response {
        json(status, .object([("error", .object([("code", .string(code)), ("message", .string(message))]))]))
    }
}

/// The `/api/devices`, `/api/devices/{id}` and `/api/alerts` handlers.
struct HubAPI: Sendable {
    let store: HubStore
    let tokens: Set<String>

    /// Nil when the request may proceed, else the 401 answer.
    func refusal(_ request: Request) -> Response? {
        guard !tokens.isEmpty else { return nil }
        if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            tokens.contains(String(header.dropFirst(7)))
        {
            return nil
        }
        if let token = request.uri.queryParameters["token"], tokens.contains(String(token)) { return nil }
        return HubAPIResponses.error(
            .unauthorized, "unauthorized", "send Authorization: Bearer <token> (or ?token=<token>) with a configured token")
    }

    /// The integer query parameter `name`, `value` when absent, nil when invalid.
    static func integer(_ request: Request, _ name: String, default value: Int, range: ClosedRange<Int>) -> Int? {
        guard let raw = request.uri.queryParameters[name[...]] else { return value }
        guard let number = Int(raw), range.contains(number) else { return nil }
        return number
    }

    func devices(_ request: Request) -> Response {
        if let refusal = refusal(request) { return refusal }
        guard let limit = Self.integer(request, "limit", default: 1000, range: 1...10_000) else {
            return HubAPIResponses.error(.badRequest, "bad-request", "limit must be an integer in 1...10000")
        }
        let after = request.uri.queryParameters["after"].map(String.init)
        let page = store.withState { $0.devicePage(after: after, limit: limit) }
        return HubAPIResponses.json(.ok, .object([
            ("ts", .int(WallClock.nowMilliseconds())), ("devices", .array(page.devices)), ("next", page.next.map { JSONValue.string($0) } ?? .null),
        ]))
    }

    func device(_ request: Request, id rawID: String?) -> Response {
        if let refusal = refusal(request) { return refusal }
        guard let rawID, let id = DeviceID(rawID) else {
            return HubAPIResponses.error(.badRequest, "bad-request", "the device id must match [A-Za-z0-9_-]{1,64}")
        }
        let now = WallClock.nowMilliseconds()
        var since = now - store.limits.historyMillis
        if let raw = request.uri.queryParameters["since"] {
            guard let value = Int64(raw), value >= 0 else {
                return HubAPIResponses.error(.badRequest, "bad-request", "since must be epoch milliseconds")
            }
            since = value
        }
        let answer = store.withState { state -> JSONValue? in
            guard var members = state.summary(of: id) else { return nil }
            members.append(("history", state.history(of: id, since: since, now: now)))
            return .object(members)
        }
        guard let answer else {
            return HubAPIResponses.error(.notFound, "not-found", "the hub knows nothing about device \(id.rawValue)")
        }
        return HubAPIResponses.json(.ok, answer)
    }

    func alerts(_ request: Request) -> Response {
        if let refusal = refusal(request) { return refusal }
        var states = Set(AlertState.allCases)
        if let raw = request.uri.queryParameters["state"] {
            states = []
            for part in raw.split(separator: ",") {
                guard let state = AlertState(rawValue: String(part)) else {
                    return HubAPIResponses.error(
                        .badRequest, "bad-request", "state must be active, acknowledged and/or cleared, comma-separated")
                }
                states.insert(state)
            }
        }
        var device: DeviceID?
        if let raw = request.uri.queryParameters["device"] {
            guard let id = DeviceID(raw) else {
                return HubAPIResponses.error(.badRequest, "bad-request", "device must match [A-Za-z0-9_-]{1,64}")
            }
            device = id
        }
        guard let limit = Self.integer(request, "limit", default: 200, range: 1...1000) else {
            return HubAPIResponses.error(.badRequest, "bad-request", "limit must be an integer in 1...1000")
        }
        let list = store.withState { $0.alertList(states: states, device: device, limit: limit) }
        return HubAPIResponses.json(.ok, .object([("ts", .int(WallClock.nowMilliseconds())), ("alerts", .array(list))]))
    }
}
