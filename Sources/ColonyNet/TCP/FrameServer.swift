import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serves request frames over TCP: a read source on the listening socket accepts connections, and each connection
/// gets its own thread that reads a frame, calls the handler, writes the reply frames in order, and reads the next.
///
/// Requests a client sends before reading replies (pipelining) wait in the socket and are answered in order. Every
/// wait is bounded by `idleTimeout`, so a client that sends nothing, stalls in a frame or stops reading is dropped;
/// a connection that breaks the frame format is dropped at once. Only the connection is lost, never the server.
///
/// `protection` bounds what one address can take before any work is done for it: connections (each is a thread),
/// request frames per second, the time from a frame's first byte to its last (a client trickling bytes is dropped
/// even though it never idles), and the request bytes held in memory over all connections. Every refusal is
/// counted in `statistics`.
///
/// `@unchecked Sendable`: the settings are constants, and the listener, the connection table and the counters sit
/// behind a `Mutex`; each connection's socket and reader belong to its own thread.
public final class FrameServer: @unchecked Sendable {
    /// Answers one request frame with the frames to send back, in order; may return none.
    public typealias Handler = @Sendable (Frame, FrameConnectionContext) -> [Frame]

    /// The IPv4 address to listen on, dotted quad or "localhost".
    public let host: String
    /// The port to listen on; 0 lets the system choose (read it back from `localEndpoint`).
    public let port: UInt16
    /// The largest frames read from, and written to, a connection.
    public let limits: FrameLimits
    /// The most connections served at once; more are accepted and closed at once.
    public let maxConnections: Int
    /// Seconds a connection may go without sending a byte (or taking a byte of a reply) before it is closed.
    public let idleTimeout: Double
    /// The per-address caps, request rate, frame deadline and memory bound.
    public let protection: FrameServerProtection

    private let handler: Handler
    /// The reply to a request frame over its address's rate; nil drops such frames unanswered.
    private let overloadReply: (@Sendable (Frame) -> Frame?)?
    private let acceptQueue = DispatchQueue(label: "colony.frame-server.accept")
    private let state: Mutex<State>
    /// Entered for every connection thread, left when it has closed its socket: `stop` waits on it.
    private let connectionThreads = DispatchGroup()

    /// The stack of a connection thread. The handler runs on it; 512 KiB is far more than a frame needs (header
    /// decoding nests at most 64 deep) while only the pages touched take memory.
    static let threadStackSize = 512 << 10
    /// Connections the kernel queues before they are accepted.
    static let backlog: Int32 = 128

    private struct State {
        var statistics = FrameServerStatistics()
        var localEndpoint: Endpoint
        var sockets = ServerSockets()
        /// Open connections per client address; an address leaves the table with its last connection, so the table
        /// is never larger than `maxConnections`.
        var connectionsPerAddress: [UInt32: Int] = [:]
        /// Request frames per client address, when `protection.requestRate` is set.
        var requestRate: RateLimiter?

        /// Counts one connection from `address` as gone.
        mutating func leave(_ address: UInt32) {
            guard let open = connectionsPerAddress[address] else { return }
            connectionsPerAddress[address] = open > 1 ? open - 1 : nil
        }
    }

    /// How a connection ended, for the counters.
    private enum Ending {
        case clean, idle, protocolError, sendFailure, overdue, overMemory
    }

    /// A server for `host`:`port` that answers each request with `handler`; nothing happens until `start`.
    /// `overloadReply` answers a request frame that came over its address's rate (so a pipelining client stays in
    /// step); without it such frames get no reply.
    public init(
        host: String = "0.0.0.0",
        port: UInt16 = 0,
        limits: FrameLimits = FrameLimits(),
        maxConnections: Int = 256,
        idleTimeout: Double = 30,
        protection: FrameServerProtection = FrameServerProtection(),
        overloadReply: (@Sendable (Frame) -> Frame?)? = nil,
        handler: @escaping Handler
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.protection = protection
        self.overloadReply = overloadReply
        self.handler = handler
        let configured = Self.bindEndpoint(host: host, port: port) ?? Endpoint(address: 0, port: port)
        var initial = State(localEndpoint: configured)
        initial.requestRate = protection.requestRate.map { RateLimiter(limit: $0) }
        self.state = Mutex(initial)
    }

    deinit {
        // Connection threads hold the server, so none is left; the listener holds it weakly and stops accepting
        // when it goes too.
        state.withLock { $0.sockets.listener = nil }
    }

    /// The address listened on, with the port the system chose; before `start`, the configured one.
    public var localEndpoint: Endpoint { state.withLock { $0.localEndpoint } }

    /// The counters so far.
    public var statistics: FrameServerStatistics { state.withLock { $0.statistics } }

    /// Checks the settings; the error names the bad one.
    public func validate() throws(FrameTransportError) {
        try limits.validate()
        guard Self.bindEndpoint(host: host, port: port) != nil else {
            throw .invalidConfiguration("FrameServer host must be an IPv4 address like 0.0.0.0, got \"\(host)\"")
        }
        guard maxConnections >= 1 else {
            throw .invalidConfiguration("FrameServer maxConnections is \(maxConnections); set it to 1 or more")
        }
        guard idleTimeout > 0, idleTimeout <= 1e6 else {
            throw .invalidConfiguration(
                "FrameServer idleTimeout is \(idleTimeout) s; set it above 0 and at most 1,000,000 s")
        }
        try protection.validate()
        let largestFrame = Frame.prefixLength + limits.maxHeader + limits.maxPayload
        guard protection.maxRequestBytesInFlight >= largestFrame else {
            throw .invalidConfiguration(
                "FrameServerProtection.maxRequestBytesInFlight is \(protection.maxRequestBytesInFlight); set it to at "
                    + "least \(largestFrame), the largest frame FrameLimits allows, or no such frame could ever be read")
        }
    }

    /// Listens and starts accepting. Does nothing when already started; after `stop`, listens again.
    public func start() throws(FrameTransportError) {
        try validate()
        let endpoint = Self.bindEndpoint(host: host, port: port)!
        try state.withLock { state throws(FrameTransportError) in
            guard state.sockets.listener == nil else { return }
            let listener = try StreamListener(on: endpoint, backlog: Self.backlog, queue: acceptQueue) {
                [weak self] socket, peer in
                guard let self else { return socket.close() }
                admit(socket, from: peer)
            }
            state.localEndpoint = listener.localEndpoint
            state.sockets.listener = listener
            state.sockets.running = true
        }
    }

    /// Stops listening, closes every connection and waits for their threads to finish (unless called from a
    /// handler, which cannot wait for itself). Safe to call more than once.
    public func stop() {
        let (listener, calledFromHandler) = state.withLock { $0.sockets.stop() }
        listener?.close()
        if !calledFromHandler { connectionThreads.wait() }
    }

    // MARK: Accepting

    private func admit(_ socket: StreamSocket, from peer: Endpoint) {
        let id: UInt64? = state.withLock { state in
            guard state.sockets.running else { return nil }
            guard state.sockets.count < maxConnections else {
                state.statistics.refusedOverLimit += 1
                return nil
            }
            if let cap = protection.maxConnectionsPerAddress,
                state.connectionsPerAddress[peer.address, default: 0] >= cap
            {
                state.statistics.refusedPerAddress += 1
                return nil
            }
            let id = state.sockets.insert(socket)
            state.connectionsPerAddress[peer.address, default: 0] += 1
            state.statistics.accepted += 1
            state.statistics.open += 1
            connectionThreads.enter()
            return id
        }
        guard let id else {
            socket.close()
            return
        }
        // Without TCP_NODELAY a small reply could wait for the client's delayed ACK; a failure here only costs latency.
        try? socket.configureConnected(endpoint: peer.description)
        socket.setReceiveTimeout(idleTimeout)
        socket.setSendTimeout(idleTimeout)
        let started = DetachedThread.start(stackSize: Self.threadStackSize) { [self] in
            serve(id, socket: socket, peer: peer)
        }
        guard !started else { return }
        state.withLock { state in
            state.sockets.remove(id)
            state.leave(peer.address)
            state.statistics.accepted -= 1
            state.statistics.open -= 1
            state.statistics.refusedOverLimit += 1
        }
        socket.close()
        connectionThreads.leave()
    }

    // MARK: Serving

    /// The loop of one connection's thread.
    private func serve(_ id: UInt64, socket: StreamSocket, peer: Endpoint) {
        state.withLock { $0.sockets.servedByCurrentThread(id) }
        let context = FrameConnectionContext(peer: peer, connectionID: id)
        var reader = FrameReader(limits: limits, pacing: .init(idleTimeout: idleTimeout, protection: protection))
        // The bytes this connection holds of the request budget: reserved when a frame's lengths arrive, released
        // once its replies are out (or the frame failed).
        var reserved = 0
        let reserve: (Int) -> Bool = { [self] bytes in
            let granted = state.withLock { state in
                let held = state.statistics.requestBytesInFlight
                guard held + bytes <= protection.maxRequestBytesInFlight else { return false }
                state.statistics.requestBytesInFlight = held + bytes
                return true
            }
            if granted { reserved = bytes }
            return granted
        }
        let release = { [self] in
            guard reserved > 0 else { return }
            let bytes = reserved
            reserved = 0
            state.withLock { $0.statistics.requestBytesInFlight -= bytes }
        }
        let ending: Ending
        serving: while true {
            let outcome = reader.next(from: socket, deadline: nil, reserve: reserve)
            switch outcome {
            case .frame(let frame, let wireLength):
                let allowed = state.withLock { state in
                    state.statistics.framesIn += 1
                    state.statistics.bytesIn += wireLength
                    guard state.requestRate?.allow(peer.address, now: .monotonicNow()) ?? true else {
                        state.statistics.framesRateLimited += 1
                        return false
                    }
                    return true
                }
                let replies: [Frame]
                if allowed {
                    replies = handler(frame, context)
                } else {
                    replies = overloadReply?(frame).map { [$0] } ?? []
                }
                guard !replies.isEmpty else {
                    release()
                    continue
                }
                let sent = FrameWriter.send(replies, on: socket, limits: limits, deadline: nil)
                release()
                switch sent {
                case .sent(let bytes):
                    state.withLock {
                        $0.statistics.framesOut += replies.count
                        $0.statistics.bytesOut += bytes
                    }
                case .timedOut:
                    ending = .idle
                    break serving
                case .tooLarge, .failed:
                    ending = .sendFailure
                    break serving
                }
            case .closed:
                ending = .clean
                break serving
            case .timedOut:
                ending = .idle
                break serving
            case .failed(_, let midFrame):
                // A reset between frames is a client going away; in the middle of a frame it cut a frame short.
                ending = midFrame ? .protocolError : .clean
                break serving
            case .violation:
                ending = .protocolError
                break serving
            case .overdue:
                ending = .overdue
                break serving
            case .refused:
                ending = .overMemory
                break serving
            }
        }
        release()
        // Counted before the close, so a client that sees the close also sees the count.
        state.withLock { state in
            state.sockets.remove(id)
            state.leave(peer.address)
            state.statistics.open -= 1
            // After `stop`, endings are the server's doing, not the client's.
            guard state.sockets.running else { return }
            switch ending {
            case .clean: break
            case .idle: state.statistics.closedIdle += 1
            case .protocolError: state.statistics.protocolErrors += 1
            case .sendFailure: state.statistics.sendFailures += 1
            case .overdue: state.statistics.closedSlowFrame += 1
            case .overMemory: state.statistics.refusedOverMemory += 1
            }
        }
        socket.close()
        connectionThreads.leave()
    }

    private static func bindEndpoint(host: String, port: UInt16) -> Endpoint? {
        Endpoint(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }
}
