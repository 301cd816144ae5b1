/// Where the UDP runtime listens and what it accepts.
public struct UDPConfiguration: Sendable, Hashable {
    /// The IPv4 address to bind, dotted quad or "localhost"; "0.0.0.0" listens on every interface.
    public var host: String = "0.0.0.0"
    /// The port to bind; 0 lets the system choose (read it back from `UDPRuntime.localEndpoint`).
    public var port: UInt16 = 0
    /// The largest datagram accepted or sent, in bytes; larger ones are dropped and counted.
    public var maxDatagramSize: Int = 1500
    /// The per-source-address limit on incoming datagrams; nil accepts everything.
    public var rateLimit: RateLimit? = RateLimit()

    /// A configuration with the defaults: any interface, any port, 1,500 bytes, 100 datagrams/s per address.
    public init() {}

    /// A configuration for `host`:`port` with the other fields defaulted.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(UDPConfigurationError) {
        guard bindEndpoint != nil else {
            throw UDPConfigurationError(field: "host", message: "must be an IPv4 address like 0.0.0.0, got \"\(host)\"")
        }
        guard maxDatagramSize >= 1, maxDatagramSize <= 65_507 else {
            throw UDPConfigurationError(
                field: "maxDatagramSize", message: "must be between 1 and 65507 bytes, got \(maxDatagramSize)")
        }
        try rateLimit?.validate()
    }

    /// The address to bind, or nil when `host` is not an IPv4 address.
    var bindEndpoint: Endpoint? {
        Endpoint(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }
}
