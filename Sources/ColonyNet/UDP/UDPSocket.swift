#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A thin wrapper over a non-blocking IPv4 UDP socket descriptor; keeps the C calls out of the runtime.
struct UDPSocket {
    /// The descriptor; the owner closes it.
    let descriptor: Int32

    /// What one read gave.
    enum ReceiveResult {
        /// A datagram of `length` bytes (possibly more than the buffer holds) from `source`.
        case datagram(length: Int, source: Endpoint)
        /// Nothing is waiting.
        case wouldBlock
        /// The read failed with this `errno`.
        case failed(Int32)
    }

    /// Opens a non-blocking socket bound to `endpoint`.
    ///
    /// Deliberately without SO_REUSEADDR: UDP has no TIME_WAIT for it to skip, and on Linux it lets a second
    /// process bind the same port and silently take a share of the datagrams instead of failing with EADDRINUSE.
    static func bound(to endpoint: Endpoint) throws(UDPRuntimeError) -> UDPSocket {
        #if canImport(Darwin)
            let type = SOCK_DGRAM
        #else
            let type = Int32(SOCK_DGRAM.rawValue)
        #endif
        let descriptor = socket(AF_INET, type, 0)
        guard descriptor >= 0 else { throw .last("open a UDP socket for", endpoint.description) }
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0,
            fcntl(descriptor, F_SETFD, FD_CLOEXEC) == 0
        else {
            let error = UDPRuntimeError.last("configure the socket for", endpoint.description)
            close(descriptor)
            throw error
        }
        var address = Self.socketAddress(endpoint)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = UDPRuntimeError.last("bind", endpoint.description)
            close(descriptor)
            throw error
        }
        return UDPSocket(descriptor: descriptor)
    }

    /// The address the socket is bound to (with the port the system chose); nil if the system cannot say.
    func localEndpoint() -> Endpoint? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { return nil }
        return Self.endpoint(address)
    }

    /// Reads one datagram into `buffer`.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> ReceiveResult {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(descriptor, buffer.baseAddress, buffer.count, 0, $0, &length)
            }
        }
        guard count >= 0 else {
            let code = errno
            return code == EAGAIN || code == EWOULDBLOCK ? .wouldBlock : .failed(code)
        }
        return .datagram(length: count, source: Self.endpoint(address))
    }

    /// Sends `bytes` to `endpoint`; returns 0 or the `errno` of the failure.
    func send(_ bytes: [UInt8], to endpoint: Endpoint) -> Int32 {
        var address = Self.socketAddress(endpoint)
        let count = bytes.withUnsafeBytes { payload in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(
                        descriptor, payload.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)
                    )
                }
            }
        }
        return count < 0 ? errno : 0
    }

    private static func socketAddress(_ endpoint: Endpoint) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        address.sin_addr.s_addr = endpoint.address.bigEndian
        return address
    }

    private static func endpoint(_ address: sockaddr_in) -> Endpoint {
        Endpoint(address: UInt32(bigEndian: address.sin_addr.s_addr), port: UInt16(bigEndian: address.sin_port))
    }
}
