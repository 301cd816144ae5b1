/// Where an `HTTPServer` listens, who it serves and the bounds on each connection.
public struct HTTPServerConfiguration: Sendable, Hashable {
    /// Folding@home's local web control uses this port; a donor who knows one finds the other.
    public static let defaultPort: UInt16 = 7396

    /// The IPv4 address to listen on, dotted quad or "localhost". Loopback by default: the page is the donor's.
    public var host = "127.0.0.1"
    /// The port; 0 lets the system choose (read it back from `HTTPServer.localEndpoint`).
    public var port: UInt16 = defaultPort
    /// The bounds on each request.
    public var limits = HTTPRequestLimits()
    /// Who is served.
    public var access = HTTPAccessPolicy()
    /// Connections served at once; more get 503 and are closed. Each holds a thread.
    public var maxConnections = 32
    /// Seconds a connection may wait for the next byte, or for the client to take a byte of a response; also how
    /// long a kept-alive connection may sit between requests.
    public var idleTimeout: Double = 10
    /// Seconds from a request's first byte to its last. The idle timeout bounds each wait; this bounds their sum,
    /// so a client trickling a byte now and then (slowloris) cannot hold a thread for ever.
    public var requestTimeout: Double = 20
    /// Requests one connection may make; the response to the last says `Connection: close`.
    public var maxRequestsPerConnection = 100

    /// The defaults: 127.0.0.1:7396, loopback clients only, 32 connections, 10 s idle, 20 s per request, 100
    /// requests per connection.
    public init() {}

    /// The defaults on `host`:`port`.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// The defaults on "HOST:PORT", as a `--web` flag gives it ("127.0.0.1:7396", "localhost:0", "0.0.0.0:8080");
    /// nil when HOST is not an IPv4 address or "localhost", or PORT is not a port number.
    public init?(address: String) {
        guard let endpoint = Endpoint(address) else { return nil }
        let colon = address.lastIndex(of: ":")!
        self.init(host: String(address[..<colon]), port: endpoint.port)
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(HTTPServerError) {
        try limits.validate()
        try access.validate()
        guard bindEndpoint != nil else {
            throw .invalidConfiguration(
                "HTTPServerConfiguration.host must be an IPv4 address like 127.0.0.1 or \"localhost\", got \"\(host)\"")
        }
        guard maxConnections >= 1, maxConnections <= 10_000 else {
            throw .invalidConfiguration(
                "HTTPServerConfiguration.maxConnections is \(maxConnections); set it between 1 and 10000")
        }
        guard idleTimeout > 0, idleTimeout <= 3_600 else {
            throw .invalidConfiguration(
                "HTTPServerConfiguration.idleTimeout is \(idleTimeout) s; set it above 0 and at most 3600 s")
        }
        guard requestTimeout > 0, requestTimeout <= 3_600 else {
            throw .invalidConfiguration(
                "HTTPServerConfiguration.requestTimeout is \(requestTimeout) s; set it above 0 and at most 3600 s")
        }
        guard maxRequestsPerConnection >= 1 else {
            throw .invalidConfiguration(
                "HTTPServerConfiguration.maxRequestsPerConnection is \(maxRequestsPerConnection); set it to 1 or more")
        }
    }

    /// The address to bind, or nil when `host` is not one.
    var bindEndpoint: Endpoint? {
        Endpoint(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }
}
