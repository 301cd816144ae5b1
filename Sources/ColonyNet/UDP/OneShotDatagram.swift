#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// One datagram from a socket of its own, opened for it and closed after: its source port is one the receiver
/// never talked to (a reachability probe must not ride on a NAT mapping the receiver opened).
public enum OneShotDatagram {
    /// Sends `bytes` to `endpoint` from a fresh socket bound to `host` (nil or "0.0.0.0": the system's choice)
    /// and an ephemeral port.
    public static func send(_ bytes: [UInt8], to endpoint: Endpoint, from host: String?) throws(UDPRuntimeError) {
        let source = host.flatMap { $0 == "0.0.0.0" || $0.isEmpty ? nil : Endpoint(host: $0, port: 0) } ?? Endpoint(address: 0, port: 0)
        let socket = try UDPSocket.bound(to: source)
        defer { close(socket.descriptor) }
        guard socket.send(bytes, to: endpoint) == 0 else { throw .last("send a probe to", endpoint.description) }
    }
}
