import Synchronization

/// A blocking client connection that sends and receives frames, for a fetcher's worker thread.
///
/// Sending and receiving are independent: one thread may keep requests in flight while another reads replies.
/// A timeout in the middle of a frame, a close or a format error leaves the stream out of step, so the connection
/// then refuses further use (`notConnected`); a timeout with nothing of a frame read can simply be retried.
///
/// `@unchecked Sendable`: the send side and the receive side each sit behind their own `Mutex`; the descriptor is
/// only shut down by `close` and freed in `deinit`, so a thread still blocked on it never reads a reused one.
public final class FrameConnection: @unchecked Sendable {
    /// The server's address.
    public let endpoint: Endpoint
    /// The largest frames read and written.
    public let limits: FrameLimits

    private let socket: StreamSocket
    /// True once the send side is out of step.
    private let sendBroken = Mutex(false)
    private let receiving: Mutex<ReceiveState>
    private let closed = Atomic(false)

    private struct ReceiveState: ~Copyable {
        var reader: FrameReader
        var broken = false
    }

    private init(socket: StreamSocket, endpoint: Endpoint, limits: FrameLimits) {
        self.socket = socket
        self.endpoint = endpoint
        self.limits = limits
        self.receiving = Mutex(ReceiveState(reader: FrameReader(limits: limits)))
    }

    deinit {
        socket.close()
    }

    /// Connects to `endpoint`, waiting at most `timeout` seconds. With `localHost` (an IPv4 address of this host),
    /// the connection leaves from that address, so the server sees it rather than whichever the system would pick:
    /// a peer serving on 127.0.N.1 must connect from 127.0.N.1 for others to see its real address. nil, "" and
    /// "0.0.0.0" leave the choice to the system.
    public static func connect(
        to endpoint: Endpoint, from localHost: String? = nil, timeout: Double, limits: FrameLimits = FrameLimits()
    )
        throws(FrameTransportError) -> FrameConnection
    {
        try limits.validate()
        let source = try sourceAddress(localHost)
        let socket = try StreamSocket.connected(to: endpoint, from: source, timeout: timeout)
        return FrameConnection(socket: socket, endpoint: endpoint, limits: limits)
    }

    /// The address this side of the connection is bound to; nil if the system cannot say.
    public var localEndpoint: Endpoint? { socket.localEndpoint() }

    /// The address to bind an outgoing socket to, or nil for the system's choice.
    static func sourceAddress(_ localHost: String?) throws(FrameTransportError) -> UInt32? {
        guard let localHost, !localHost.isEmpty, localHost != "0.0.0.0" else { return nil }
        guard let endpoint = Endpoint(host: localHost == "localhost" ? "127.0.0.1" : localHost, port: 0) else {
            throw .invalidConfiguration(
                "FrameConnection local host must be an IPv4 address like 127.0.0.2, got \"\(localHost)\"")
        }
        return endpoint.address
    }

    /// Bytes every connection this process opened has sent, frames whole (a daily network cap counts them).
    public static let bytesSent = Atomic<Int>(0)
    /// Bytes of whole frames every connection this process opened has received.
    public static let bytesReceived = Atomic<Int>(0)

    /// Sends `frame`, waiting at most `timeout` seconds for the peer to take it.
    public func send(_ frame: Frame, timeout: Double = 30) throws(FrameTransportError) {
        try send(CollectionOfOne(frame), timeout: timeout)
    }

    /// Sends `frames` in order with as few system calls as possible: how a fetcher puts several requests in flight.
    public func send(_ frames: some Collection<Frame>, timeout: Double = 30) throws(FrameTransportError) {
        try sendBroken.withLock { broken throws(FrameTransportError) in
            guard !closed.load(ordering: .relaxed), !broken else { throw notConnected() }
            let deadline = Instant.monotonicNow().adding(seconds: max(timeout, 0))
            switch FrameWriter.send(frames, on: socket, limits: limits, deadline: deadline) {
            case .sent(let bytes):
                Self.bytesSent.add(bytes, ordering: .relaxed)
                return
            case .tooLarge(let message):
                throw FrameTransportError(code: .frameTooLarge, endpoint: endpoint.description, message: message)
            case .timedOut:
                broken = true
                throw FrameTransportError(
                    code: .timedOut, endpoint: endpoint.description,
                    message: "the peer took no bytes for \(timeout) s; reconnect")
            case .failed(let code):
                broken = true
                if closed.load(ordering: .relaxed) { throw notConnected() }
                throw FrameTransportError(
                    code: .socketFailed, endpoint: endpoint.description, message: "cannot send", errorNumber: code)
            }
        }
    }

    /// Waits at most `timeout` seconds for the next whole frame.
    public func receive(timeout: Double) throws(FrameTransportError) -> Frame {
        try receiving.withLock { state throws(FrameTransportError) -> Frame in
            guard !closed.load(ordering: .relaxed), !state.broken else { throw notConnected() }
            let deadline = Instant.monotonicNow().adding(seconds: max(timeout, 0))
            let outcome = state.reader.next(from: socket, deadline: deadline)
            if case .frame(let frame, let bytes) = outcome {
                Self.bytesReceived.add(bytes, ordering: .relaxed)
                return frame
            }
            if case .timedOut(midFrame: false) = outcome {
                throw FrameTransportError(
                    code: .timedOut, endpoint: endpoint.description, message: "no frame within \(timeout) s")
            }
            state.broken = true
            if closed.load(ordering: .relaxed) { throw notConnected() }
            switch outcome {
            case .frame, .timedOut:
                throw FrameTransportError(
                    code: .timedOut, endpoint: endpoint.description,
                    message: "a frame began but did not end within \(timeout) s; reconnect")
            case .closed:
                throw FrameTransportError(
                    code: .closed, endpoint: endpoint.description, message: "the peer closed the connection")
            case .failed(let code, _):
                throw FrameTransportError(
                    code: .socketFailed, endpoint: endpoint.description, message: "cannot receive", errorNumber: code)
            case .violation(let code, let message):
                throw FrameTransportError(code: code, endpoint: endpoint.description, message: message)
            case .overdue, .refused:
                // Only a server's reader paces frames or reserves memory; a client never gets these.
                throw FrameTransportError(
                    code: .timedOut, endpoint: endpoint.description,
                    message: "a frame began but did not end in time; reconnect")
            }
        }
    }

    /// Ends the connection in both directions and wakes any thread blocked in `send` or `receive`. Safe to call more
    /// than once; the descriptor itself is freed when the connection is released.
    public func close() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        socket.shutdownBoth()
    }

    private func notConnected() -> FrameTransportError {
        FrameTransportError(
            code: .notConnected, endpoint: endpoint.description,
            message: closed.load(ordering: .relaxed)
                ? "the connection was closed by this side"
                : "an earlier failure left the connection unusable; reconnect")
    }
}
