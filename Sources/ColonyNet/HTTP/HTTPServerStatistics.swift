/// Counters of an `HTTPServer` since it was made.
public struct HTTPServerStatistics: Sendable, Hashable {
    /// Connections accepted and served.
    public var accepted = 0
    /// Connections answered 503 and closed because `maxConnections` were open (or no thread could start).
    public var refusedOverLimit = 0
    /// Connections open now.
    public var open = 0
    /// Complete requests read.
    public var requests = 0
    /// Requests the parser refused (malformed, or over a limit), answered with 4xx or 5xx and closed.
    public var malformedRequests = 0
    /// Requests the access policy refused (401 or 403).
    public var deniedRequests = 0
    /// Connections answered 408 because a request was not whole within `requestTimeout`, or stalled for
    /// `idleTimeout` in the middle.
    public var requestTimeouts = 0
    /// Connections closed after sitting `idleTimeout` between requests.
    public var closedIdle = 0

    /// All zero.
    public init() {}
}
