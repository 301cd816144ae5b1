/// Sends each request to the handler registered for its exact path and method: 404 for an unknown path, 405 (with
/// `Allow`) for a known path and another method. A GET route answers HEAD too; the server leaves the body out.
public struct HTTPRouter: Sendable {
    /// Answers one request.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    private var routes: [String: [HTTPMethod: Handler]] = [:]

    /// A router with no routes: every request gets 404.
    public init() {}

    /// Routes `method` on `path` (compared exactly with the decoded path, "/api/status") to `handler`, replacing
    /// an earlier route for the same pair.
    public mutating func add(_ method: HTTPMethod, _ path: String, _ handler: @escaping Handler) {
        routes[path, default: [:]][method] = handler
    }

    /// The methods routed on `path`, HEAD included where GET is, in a fixed order.
    public func methods(for path: String) -> [HTTPMethod] {
        guard let table = routes[path] else { return [] }
        return HTTPMethod.supported.filter { table[$0] != nil || ($0 == .head && table[.get] != nil) }
    }

    /// The response of the route for `request`, or 404 or 405.
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        guard let table = routes[request.path] else {
            return .text("no page at \(request.path)\n", status: .notFound)
        }
        if let handler = table[request.method] ?? (request.method == .head ? table[.get] : nil) {
            return handler(request)
        }
        let allowed = methods(for: request.path).map(\.rawValue).joined(separator: ", ")
        var response = HTTPResponse.text(
            "\(request.path) does not take \(request.method); it takes \(allowed)\n", status: .methodNotAllowed)
        response.headers.set("Allow", allowed)
        return response
    }
}
