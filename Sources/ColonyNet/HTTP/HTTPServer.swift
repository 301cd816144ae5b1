import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small HTTP/1.1 server on the TCP runtime: a read source on the listening socket accepts connections, and each
/// connection gets its own thread that reads a request, asks the access policy, calls the handler and writes the
/// response, then reads the next while the connection is kept alive.
///
/// Every input is bounded as in `FrameServer`: connections (`maxConnections`, each a thread), each wait
/// (`idleTimeout`), each request's total time (`requestTimeout`) and size (`HTTPRequestLimits`), and requests per
/// connection. A request over a bound or malformed is answered with its status and the connection closed; only
/// the connection is lost, never the server.
///
/// `@unchecked Sendable`: the settings are constants, and the listener, the connection table and the counters sit
/// behind a `Mutex`; each connection's socket and parser belong to its own thread.
public final class HTTPServer: @unchecked Sendable {
    /// Answers one request; called on the connection's thread, several at once for several connections.
    public typealias Handler = @Sendable (HTTPRequest) -> HTTPResponse

    /// Where the server listens, who it serves and its bounds.
    public let configuration: HTTPServerConfiguration

    private let handler: Handler
    private let acceptQueue = DispatchQueue(label: "colony.http-server.accept")
    private let state: Mutex<State>
    /// Entered for every connection thread, left when it has closed its socket: `stop` waits on it.
    private let connectionThreads = DispatchGroup()

    /// The stack of a connection thread, where the handler runs: a handler that encodes a status page needs far
    /// less, and only touched pages take memory.
    static let threadStackSize = 512 << 10
    /// Bytes read per system call.
    static let readSize = 8 << 10
    /// After a response that closes the connection, how long (and how many bytes) the client's unread bytes are
    /// drained: closing with unread bytes sends a reset, which can make the client lose the response.
    static let drainSeconds = 1.0
    static let drainBytes = 256 << 10

    private struct State {
        var statistics = HTTPServerStatistics()
        var localEndpoint: Endpoint
        var sockets = ServerSockets()
    }

    /// A server with `configuration` that answers each admitted request with `handler`; nothing happens until
    /// `start`.
    public init(configuration: HTTPServerConfiguration = HTTPServerConfiguration(), handler: @escaping Handler) {
        self.configuration = configuration
        self.handler = handler
        let configured = configuration.bindEndpoint ?? Endpoint(address: 0, port: configuration.port)
        self.state = Mutex(State(localEndpoint: configured))
    }

    /// A server on `host`:`port` with the other settings at their defaults, routing with `router`.
    public convenience init(host: String = "127.0.0.1", port: UInt16, router: HTTPRouter) {
        self.init(configuration: HTTPServerConfiguration(host: host, port: port), handler: router.respond(to:))
    }

    deinit {
        // Connection threads hold the server, so none is left; the listener holds it weakly and stops accepting
        // when it goes too.
        state.withLock { $0.sockets.listener = nil }
    }

    /// The address listened on, with the port the system chose; before `start`, the configured one.
    public var localEndpoint: Endpoint { state.withLock { $0.localEndpoint } }

    /// The counters so far.
    public var statistics: HTTPServerStatistics { state.withLock { $0.statistics } }

    /// Checks the settings and starts listening. Does nothing when already started; after `stop`, listens again.
    public func start() throws(HTTPServerError) {
        try configuration.validate()
        let endpoint = configuration.bindEndpoint!
        try state.withLock { state throws(HTTPServerError) in
            guard state.sockets.listener == nil else { return }
            do throws(FrameTransportError) {
                let listener = try StreamListener(on: endpoint, backlog: 64, queue: acceptQueue) {
                    [weak self] socket, peer in
                    guard let self else { return socket.close() }
                    admit(socket, from: peer)
                }
                state.localEndpoint = listener.localEndpoint
                state.sockets.listener = listener
            } catch {
                throw HTTPServerError(code: .listenFailed, message: "cannot listen on \(endpoint): \(error.reason)")
            }
            state.sockets.running = true
        }
    }

    /// Stops listening, ends every connection (a blocked read or write returns at once) and waits for their
    /// threads, unless called from a handler, which cannot wait for itself. Safe to call more than once.
    public func stop() {
        let (listener, calledFromHandler) = state.withLock { $0.sockets.stop() }
        listener?.close()
        if !calledFromHandler { connectionThreads.wait() }
    }

    // MARK: Accepting

    private func admit(_ socket: StreamSocket, from peer: Endpoint) {
        let id: UInt64? = state.withLock { state in
            guard state.sockets.running, state.sockets.count < configuration.maxConnections else {
                if state.sockets.running { state.statistics.refusedOverLimit += 1 }
                return nil
            }
            let id = state.sockets.insert(socket)
            state.statistics.accepted += 1
            state.statistics.open += 1
            connectionThreads.enter()
            return id
        }
        guard let id else {
            refuseBusy(socket)
            return
        }
        try? socket.configureConnected(endpoint: peer.description)
        socket.setSendTimeout(configuration.idleTimeout)
        let started = DetachedThread.start(stackSize: Self.threadStackSize) { [self] in
            serve(id, socket: socket, peer: peer)
        }
        guard !started else { return }
        state.withLock { state in
            state.sockets.remove(id)
            state.statistics.accepted -= 1
            state.statistics.open -= 1
            state.statistics.refusedOverLimit += 1
        }
        refuseBusy(socket)
        connectionThreads.leave()
    }

    /// Answers 503 on a connection over the cap without reading its request: the reply fits the empty send buffer
    /// of a new connection, so the short timeout never holds the accepting queue.
    private func refuseBusy(_ socket: StreamSocket) {
        socket.setSendTimeout(0.05)
        let response = HTTPResponse.text(
            "too many connections (\(configuration.maxConnections)); try again\n", status: .serviceUnavailable)
        _ = send(response.serialized(keepAlive: false, date: Self.now()), on: socket, deadline: nil)
        socket.shutdownWrite()
        socket.close()
    }

    // MARK: Serving

    /// The loop of one connection's thread.
    private func serve(_ id: UInt64, socket: StreamSocket, peer: Endpoint) {
        state.withLock { $0.sockets.servedByCurrentThread(id) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 1)
        defer { buffer.deallocate() }
        var parser = HTTPRequestParser(limits: configuration.limits)
        var served = 0
        /// Whether the connection ended by sitting idle between requests.
        var idle = false
        /// Whether the last thing sent was a response saying `Connection: close`, after which unread bytes are drained.
        var closing = false
        connection: while true {
            // Bytes of the next request already buffered (pipelined) start its clock now; otherwise its first byte.
            var requestDeadline = parser.isInsideRequest ? deadline(after: configuration.requestTimeout) : nil
            var request: HTTPRequest?
            /// Whether "100 Continue" went out for this request.
            var continued = false
            while request == nil {
                do {
                    request = try parser.next()
                } catch {
                    state.withLock { $0.statistics.malformedRequests += 1 }
                    closing = send(.refusal(error), keepAlive: false, headOnly: false, on: socket)
                    break connection
                }
                if request != nil { break }
                if parser.awaitsContinue, !continued {
                    continued = true
                    guard send(Self.continueResponse, on: socket, deadline: nil) else { break connection }
                }
                let idleDeadline = deadline(after: configuration.idleTimeout)
                let wait = min(idleDeadline, requestDeadline ?? idleDeadline)
                switch socket.receive(into: buffer.baseAddress!, count: buffer.count, waitAll: false, deadline: wait) {
                case .received(let count):
                    if requestDeadline == nil { requestDeadline = deadline(after: configuration.requestTimeout) }
                    parser.append(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                case .timedOut where parser.isInsideRequest:
                    // Counted before the response, so a client that has it also sees the count.
                    state.withLock { $0.statistics.requestTimeouts += 1 }
                    let response = HTTPResponse.text(
                        "the request did not arrive within \(configuration.requestTimeout) s\n",
                        status: .requestTimeout)
                    closing = send(response, keepAlive: false, headOnly: false, on: socket)
                    break connection
                case .timedOut:
                    idle = true
                    break connection
                case .endOfStream, .failed:
                    break connection
                }
            }
            guard let request else { break }
            served += 1
            let running = state.withLock { state in
                state.statistics.requests += 1
                return state.sockets.running
            }
            let response: HTTPResponse
            if let refusal = configuration.access.refusal(for: request, from: peer) {
                state.withLock { $0.statistics.deniedRequests += 1 }
                response = refusal
            } else {
                response = handler(request)
            }
            let keepAlive = running && request.wantsKeepAlive && served < configuration.maxRequestsPerConnection
            guard send(response, keepAlive: keepAlive, headOnly: request.method == .head, on: socket) else { break }
            if !keepAlive {
                closing = true
                break
            }
        }
        if closing, state.withLock({ $0.sockets.running }) { drain(socket, buffer: buffer) }
        // Counted before the close, so a client that sees the close also sees the count.
        state.withLock { state in
            state.sockets.remove(id)
            state.statistics.open -= 1
            // After `stop`, endings are the server's doing, not the client's.
            if idle, state.sockets.running { state.statistics.closedIdle += 1 }
        }
        socket.close()
        connectionThreads.leave()
    }

    private func deadline(after seconds: Double) -> Instant {
        Instant.monotonicNow().adding(seconds: seconds)
    }

    /// Sends `response`; false when the client did not take it within the idle timeout or the write failed.
    private func send(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool, on socket: StreamSocket) -> Bool {
        send(response.serialized(keepAlive: keepAlive, headOnly: headOnly, date: Self.now()), on: socket, deadline: nil)
    }

    /// The interim answer to `Expect: 100-continue`.
    private static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// The current time as an HTTP date, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7); nil if the system
    /// cannot say.
    static func now() -> String? {
        var seconds = time(nil)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return nil }
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard (0..<7).contains(parts.tm_wday), (0..<12).contains(parts.tm_mon) else { return nil }
        func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
            + "\(1900 + parts.tm_year) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    }

    private func send(_ bytes: [UInt8], on socket: StreamSocket, deadline: Instant?) -> Bool {
        let result = bytes.withUnsafeBytes {
            socket.sendAll($0, UnsafeRawBufferPointer(start: nil, count: 0), deadline: deadline)
        }
        if case .sent = result { return true }
        return false
    }

    /// Ends the sending side, then reads and drops what the client still sends until it closes, for at most
    /// `drainSeconds` and `drainBytes`, so the close does not reset a response the client has not read yet.
    private func drain(_ socket: StreamSocket, buffer: UnsafeMutableRawBufferPointer) {
        socket.shutdownWrite()
        let end = deadline(after: Self.drainSeconds)
        var drained = 0
        while drained < Self.drainBytes {
            guard
                case .received(let count) =
                    socket.receive(into: buffer.baseAddress!, count: buffer.count, waitAll: false, deadline: end)
            else { return }
            drained += count
        }
    }
}
