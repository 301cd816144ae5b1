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

    private let handler: Handler
    private let acceptQueue = DispatchQueue(label: "colony.frame-server.accept")
    private let state: Mutex<State>
    /// Entered for every connection thread, left when it has closed its socket: `stop` waits on it.
    private let connectionThreads = DispatchGroup()

    /// The stack of a connection thread. The handler runs on it; 512 KiB is far more than a frame needs (header
    /// decoding nests at most 64 deep) while only the pages touched take memory.
    static let threadStackSize = 512 << 10
    /// Connections the kernel queues before they are accepted.
    static let backlog: Int32 = 128

    private struct Connection {
        let socket: StreamSocket
        /// The thread serving it, once that thread has started: `stop` called from a handler must not wait for itself.
        var thread: pthread_t?
    }

    private struct State {
        var statistics = FrameServerStatistics()
        var localEndpoint: Endpoint
        var listener: (any DispatchSourceRead)?
        /// Signalled once the listening socket is closed, so `stop` returns with the port free again.
        var listenerClosed: DispatchSemaphore?
        var running = false
        var connections: [UInt64: Connection] = [:]
        var nextID: UInt64 = 1
    }

    /// How a connection ended, for the counters.
    private enum Ending {
        case clean, idle, protocolError, sendFailure
    }

    /// A server for `host`:`port` that answers each request with `handler`; nothing happens until `start`.
    public init(
        host: String = "0.0.0.0",
        port: UInt16 = 0,
        limits: FrameLimits = FrameLimits(),
        maxConnections: Int = 256,
        idleTimeout: Double = 30,
        handler: @escaping Handler
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.handler = handler
        let configured = Self.bindEndpoint(host: host, port: port) ?? Endpoint(address: 0, port: port)
        self.state = Mutex(State(localEndpoint: configured))
    }

    deinit {
        // Connection threads hold the server, so none is left; the read source holds it weakly.
        state.withLock { $0.listener?.cancel() }
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
    }

    /// Listens and starts accepting. Does nothing when already started; after `stop`, listens again.
    public func start() throws(FrameTransportError) {
        try validate()
        let endpoint = Self.bindEndpoint(host: host, port: port)!
        try state.withLock { state throws(FrameTransportError) in
            guard state.listener == nil else { return }
            let listener = try StreamSocket.listening(on: endpoint, backlog: Self.backlog)
            state.localEndpoint = listener.localEndpoint() ?? endpoint
            let source = DispatchSource.makeReadSource(fileDescriptor: listener.descriptor, queue: acceptQueue)
            source.setEventHandler { [weak self] in self?.acceptPending(from: listener) }
            let closed = DispatchSemaphore(value: 0)
            source.setCancelHandler {
                listener.close()
                closed.signal()
            }
            state.listener = source
            state.listenerClosed = closed
            state.running = true
            source.resume()
        }
    }

    /// Stops listening, closes every connection and waits for their threads to finish (unless called from a
    /// handler, which cannot wait for itself). Safe to call more than once.
    public func stop() {
        let (listener, listenerClosed, calledFromHandler) = state.withLock { state in
            state.running = false
            let listener = state.listener
            let listenerClosed = state.listenerClosed
            state.listener = nil
            state.listenerClosed = nil
            let current = pthread_self()
            var calledFromHandler = false
            for connection in state.connections.values {
                // Shutting down (not closing) wakes the thread's blocked read; the thread closes the descriptor.
                connection.socket.shutdownBoth()
                if let thread = connection.thread, pthread_equal(thread, current) != 0 { calledFromHandler = true }
            }
            return (listener, listenerClosed, calledFromHandler)
        }
        listener?.cancel()
        listenerClosed?.wait()
        if !calledFromHandler { connectionThreads.wait() }
    }

    // MARK: Accepting

    private func acceptPending(from listener: StreamSocket) {
        while true {
            switch listener.accept() {
            case .wouldBlock:
                return
            case .failed(let code):
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    // The connection stays queued, so the source would fire again at once and spin: pause this
                    // queue (it only accepts) so that connection threads can finish and free descriptors.
                    usleep(100_000)
                }
                return
            case .connection(let socket, let peer):
                admit(socket, from: peer)
            }
        }
    }

    private func admit(_ socket: StreamSocket, from peer: Endpoint) {
        let id: UInt64? = state.withLock { state in
            guard state.running else { return nil }
            guard state.connections.count < maxConnections else {
                state.statistics.refusedOverLimit += 1
                return nil
            }
            let id = state.nextID
            state.nextID += 1
            state.connections[id] = Connection(socket: socket)
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
            state.connections[id] = nil
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
        state.withLock { $0.connections[id]?.thread = pthread_self() }
        let context = FrameConnectionContext(peer: peer, connectionID: id)
        var reader = FrameReader(limits: limits)
        let ending: Ending
        serving: while true {
            switch reader.next(from: socket, deadline: nil) {
            case .frame(let frame, let wireLength):
                state.withLock {
                    $0.statistics.framesIn += 1
                    $0.statistics.bytesIn += wireLength
                }
                let replies = handler(frame, context)
                guard !replies.isEmpty else { continue }
                switch FrameWriter.send(replies, on: socket, limits: limits, deadline: nil) {
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
            }
        }
        // Counted before the close, so a client that sees the close also sees the count.
        state.withLock { state in
            state.connections[id] = nil
            state.statistics.open -= 1
            // After `stop`, endings are the server's doing, not the client's.
            guard state.running else { return }
            switch ending {
            case .clean: break
            case .idle: state.statistics.closedIdle += 1
            case .protocolError: state.statistics.protocolErrors += 1
            case .sendFailure: state.statistics.sendFailures += 1
            }
        }
        socket.close()
        connectionThreads.leave()
    }

    private static func bindEndpoint(host: String, port: UInt16) -> Endpoint? {
        Endpoint(host: host == "localhost" ? "127.0.0.1" : host, port: port)
    }
}
