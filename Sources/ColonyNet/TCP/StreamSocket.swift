#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A thin wrapper over an IPv4 TCP socket descriptor; keeps the C calls out of the server and the connection.
///
/// Connected sockets are blocking with SO_RCVTIMEO/SO_SNDTIMEO bounding each wait: a thread that serves one
/// connection then needs one system call per read instead of a poll before every read.
struct StreamSocket {
    /// The descriptor; the owner closes it.
    let descriptor: Int32

    /// What one read gave.
    enum ReceiveResult {
        /// This many bytes (at least one).
        case received(Int)
        /// The peer closed its side.
        case endOfStream
        /// The socket's timeout (or the deadline) passed with nothing read.
        case timedOut
        /// The read failed with this `errno`.
        case failed(Int32)
    }

    /// What a complete write gave.
    enum SendResult {
        /// Every byte went out.
        case sent
        /// The peer did not take the bytes in time.
        case timedOut
        /// The write failed with this `errno`.
        case failed(Int32)
    }

    /// What one accept gave.
    enum AcceptResult {
        /// A new blocking connection from `peer`.
        case connection(StreamSocket, peer: Endpoint)
        /// Nothing is waiting.
        case wouldBlock
        /// The accept failed with this `errno`.
        case failed(Int32)
    }

    #if canImport(Darwin)
        private static let streamType = SOCK_STREAM
        private static let sendFlags: Int32 = 0
    #else
        private static let streamType = Int32(SOCK_STREAM.rawValue)
        /// A peer that resets the connection must give EPIPE, not a SIGPIPE that kills the process.
        private static let sendFlags = Int32(MSG_NOSIGNAL)
    #endif

    // MARK: Opening

    /// Opens a non-blocking socket listening on `endpoint`.
    ///
    /// SO_REUSEADDR lets a restarted peer bind its port while old connections sit in TIME_WAIT; for TCP on Linux it
    /// does not let two listeners share a port.
    static func listening(on endpoint: Endpoint, backlog: Int32) throws(FrameTransportError) -> StreamSocket {
        let socket = try open(for: endpoint.description, code: .listenFailed)
        do throws(FrameTransportError) {
            var one: Int32 = 1
            guard
                setsockopt(socket.descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
            else { throw .system(.listenFailed, endpoint.description, "cannot set SO_REUSEADDR") }
            try socket.setNonBlocking(true, endpoint: endpoint.description)
            var address = socketAddress(endpoint)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else {
                throw .system(.listenFailed, endpoint.description, "cannot bind; is another program on this port?")
            }
            guard listen(socket.descriptor, backlog) == 0 else {
                throw .system(.listenFailed, endpoint.description, "cannot listen")
            }
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    /// Connects to `endpoint`, waiting at most `timeout` seconds; the socket comes back blocking, with TCP_NODELAY.
    /// With `source`, the socket is first bound to that local address (port 0: the system picks one), so the peer
    /// sees the connection come from it: a host with several addresses (a peer on 127.0.N.1) speaks from the one
    /// it serves on.
    static func connected(
        to endpoint: Endpoint, from source: UInt32? = nil, timeout: Double
    ) throws(FrameTransportError) -> StreamSocket {
        let name = endpoint.description
        let socket = try open(for: name, code: .connectFailed)
        do throws(FrameTransportError) {
            if let source {
                var local = socketAddress(Endpoint(address: source, port: 0))
                let bound = withUnsafePointer(to: &local) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        bind(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                guard bound == 0 else {
                    let host = Endpoint(address: source, port: 0).host
                    throw .system(
                        .connectFailed, name, "cannot bind the outgoing socket to \(host); is it an address of this host?")
                }
            }
            try socket.configureConnected(endpoint: name)
            // Non-blocking only while connecting, so that the wait can be bounded by poll.
            try socket.setNonBlocking(true, endpoint: name)
            var address = socketAddress(endpoint)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if result != 0 {
                guard errno == EINPROGRESS || errno == EINTR else {
                    throw .system(.connectFailed, name, "cannot connect")
                }
                try socket.waitForConnection(endpoint: name, timeout: timeout)
            }
            try socket.setNonBlocking(false, endpoint: name)
            return socket
        } catch {
            socket.close()
            throw error
        }
    }

    private static func open(
        for endpoint: String, code: FrameTransportError.Code
    ) throws(FrameTransportError)
        -> StreamSocket
    {
        let descriptor = socket(AF_INET, streamType, 0)
        guard descriptor >= 0 else { throw .system(code, endpoint, "cannot open a TCP socket") }
        guard fcntl(descriptor, F_SETFD, FD_CLOEXEC) == 0 else {
            let error = FrameTransportError.system(code, endpoint, "cannot set close-on-exec")
            StreamSocket(descriptor: descriptor).close()
            throw error
        }
        return StreamSocket(descriptor: descriptor)
    }

    private func waitForConnection(endpoint: String, timeout: Double) throws(FrameTransportError) {
        let deadline = Instant.monotonicNow().adding(seconds: max(timeout, 0))
        while true {
            let remaining = deadline.seconds(since: .monotonicNow())
            guard remaining > 0 else {
                throw FrameTransportError(
                    code: .timedOut, endpoint: endpoint, message: "no connection within \(timeout) s")
            }
            var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&entry, 1, Int32(min(remaining * 1000, 3_600_000).rounded(.up)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .system(.connectFailed, endpoint, "cannot wait for the connection")
            }
            if ready == 0 { continue }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 else {
                throw .system(.connectFailed, endpoint, "cannot read the connection's status")
            }
            guard failure == 0 else {
                throw FrameTransportError(
                    code: .connectFailed, endpoint: endpoint, message: "cannot connect", errorNumber: failure)
            }
            return
        }
    }

    // MARK: Settings

    /// Sets TCP_NODELAY (a request frame must leave at once, not wait for the previous reply's ACK) and, where
    /// needed, turns SIGPIPE off.
    func configureConnected(endpoint: String) throws(FrameTransportError) {
        var one: Int32 = 1
        guard setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        else { throw .system(.socketFailed, endpoint, "cannot set TCP_NODELAY") }
        #if canImport(Darwin)
            guard setsockopt(descriptor, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
            else { throw .system(.socketFailed, endpoint, "cannot set SO_NOSIGPIPE") }
        #endif
    }

    func setNonBlocking(_ on: Bool, endpoint: String) throws(FrameTransportError) {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0 else {
            throw .system(.socketFailed, endpoint, "cannot set O_NONBLOCK")
        }
    }

    /// Bounds every blocking read by `seconds`; returns false when the system refuses.
    @discardableResult
    func setReceiveTimeout(_ seconds: Double) -> Bool { setTimeout(SO_RCVTIMEO, seconds) }

    /// Bounds every blocking write by `seconds`; returns false when the system refuses.
    @discardableResult
    func setSendTimeout(_ seconds: Double) -> Bool { setTimeout(SO_SNDTIMEO, seconds) }

    private func setTimeout(_ option: Int32, _ seconds: Double) -> Bool {
        // A zero timeval means "wait forever", so anything positive is at least one microsecond.
        let microseconds = max(1, Int((min(seconds, 1e9) * 1e6).rounded(.up)))
        var value = timeval(tv_sec: microseconds / 1_000_000, tv_usec: .init(microseconds % 1_000_000))
        return setsockopt(descriptor, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size)) == 0
    }

    /// The address the socket is bound to; nil if the system cannot say.
    func localEndpoint() -> Endpoint? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return result == 0 ? Self.endpoint(address) : nil
    }

    // MARK: I/O

    /// Takes one waiting connection from a listening socket.
    func accept() -> AcceptResult {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        while true {
            let accepted = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Self.acceptCall(descriptor, $0, &length) }
            }
            if accepted >= 0 {
                // accept4 is hidden behind _GNU_SOURCE, so close-on-exec is set after the fact.
                _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
                #if canImport(Darwin)
                    // Linux does not pass O_NONBLOCK from the listener to the accepted socket; Darwin does.
                    let flags = fcntl(accepted, F_GETFL)
                    _ = fcntl(accepted, F_SETFL, flags & ~O_NONBLOCK)
                #endif
                return .connection(StreamSocket(descriptor: accepted), peer: Self.endpoint(address))
            }
            let code = errno
            switch code {
            case EINTR, ECONNABORTED: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(code)
            }
        }
    }

    private static func acceptCall(
        _ descriptor: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>
    ) -> Int32 {
        #if canImport(Darwin)
            Darwin.accept(descriptor, address, length)
        #else
            Glibc.accept(descriptor, address, length)
        #endif
    }

    /// Reads up to `count` bytes into `destination`; with `waitAll`, waits until all `count` have come (or the
    /// timeout, the end of the stream or an error cuts it short). A `deadline` replaces the socket's own timeout.
    func receive(
        into destination: UnsafeMutableRawPointer, count: Int, waitAll: Bool, deadline: Instant?
    ) -> ReceiveResult {
        while true {
            if let deadline {
                let remaining = deadline.seconds(since: .monotonicNow())
                guard remaining > 0, setReceiveTimeout(remaining) else { return .timedOut }
            }
            let result = recv(descriptor, destination, count, waitAll ? Int32(MSG_WAITALL) : 0)
            if result > 0 { return .received(result) }
            if result == 0 { return .endOfStream }
            let code = errno
            switch code {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .timedOut
            default: return .failed(code)
            }
        }
    }

    /// Writes all of `first` then all of `second` with as few system calls as the kernel allows and without
    /// joining them in a new buffer. A `deadline` replaces the socket's own timeout for each wait.
    func sendAll(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, deadline: Instant?) -> SendResult {
        var parts = [
            iovec(iov_base: UnsafeMutableRawPointer(mutating: first.baseAddress), iov_len: first.count),
            iovec(iov_base: UnsafeMutableRawPointer(mutating: second.baseAddress), iov_len: second.count),
        ]
        var index = 0
        while index < 2 {
            if parts[index].iov_len == 0 {
                index += 1
                continue
            }
            if let deadline {
                let remaining = deadline.seconds(since: .monotonicNow())
                guard remaining > 0, setSendTimeout(remaining) else { return .timedOut }
            }
            let written = parts.withUnsafeMutableBufferPointer { vector in
                var message = msghdr()
                message.msg_iov = vector.baseAddress! + index
                message.msg_iovlen = .init(2 - index)
                return sendmsg(descriptor, &message, Self.sendFlags)
            }
            if written < 0 {
                let code = errno
                switch code {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return .timedOut
                default: return .failed(code)
                }
            }
            var rest = written
            while rest > 0, index < 2 {
                let step = min(rest, parts[index].iov_len)
                parts[index].iov_base = parts[index].iov_base.map { $0 + step }
                parts[index].iov_len -= step
                rest -= step
                if parts[index].iov_len == 0 { index += 1 }
            }
        }
        return .sent
    }

    /// Ends both directions: wakes a thread blocked reading or writing this socket, without freeing the descriptor.
    func shutdownBoth() {
        _ = shutdown(descriptor, Int32(SHUT_RDWR))
    }

    /// Ends the sending direction only: the peer reads the end of the stream while this side can still read.
    func shutdownWrite() {
        _ = shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Closes the descriptor.
    func close() {
        #if canImport(Darwin)
            _ = Darwin.close(descriptor)
        #else
            _ = Glibc.close(descriptor)
        #endif
    }

    static func socketAddress(_ endpoint: Endpoint) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = endpoint.port.bigEndian
        address.sin_addr.s_addr = endpoint.address.bigEndian
        return address
    }

    static func endpoint(_ address: sockaddr_in) -> Endpoint {
        Endpoint(address: UInt32(bigEndian: address.sin_addr.s_addr), port: UInt16(bigEndian: address.sin_port))
    }
}
