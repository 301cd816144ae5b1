import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs a `DatagramService` over a real UDP socket: a read source feeds it incoming datagrams, a timer calls `tick`
/// at its `nextDeadline`, and whatever it returns is sent. All calls into the service happen on one private serial
/// queue, so the service needs no locking of its own.
///
/// `@unchecked Sendable`: the service, socket, sources, limiter and buffer are touched only on `queue`; the counters
/// and the bound address sit behind a `Mutex`.
public final class UDPRuntime: @unchecked Sendable {
    /// The configuration it was made with.
    public let configuration: UDPConfiguration

    private let service: any DatagramService
    private let queue = DispatchQueue(label: "colony.udp-runtime")
    private let queueKey = DispatchSpecificKey<UInt8>()
    private let shared: Mutex<SharedState>

    // Queue-only state.
    private var socket: UDPSocket?
    private var readSource: (any DispatchSourceRead)?
    private var timer: (any DispatchSourceTimer)?
    private var armedDeadline: Int64?
    private var limiter: RateLimiter?
    /// One byte more than the largest accepted datagram, so that a larger one shows as a longer read.
    private let buffer: UnsafeMutableRawBufferPointer

    /// How many datagrams one read event takes at most before letting the timer and other work run; the read
    /// source fires again at once while more are waiting.
    private static let readsPerEvent = 1024

    private struct SharedState {
        var statistics = UDPStatistics()
        var localEndpoint: Endpoint
    }

    /// A runtime for `service`; nothing happens until `start`.
    public init(service: some DatagramService, configuration: UDPConfiguration = UDPConfiguration()) {
        self.service = service
        self.configuration = configuration
        let capacity = min(max(configuration.maxDatagramSize, 1), 65_507) + 1
        self.buffer = .allocate(byteCount: capacity, alignment: 8)
        let configured = configuration.bindEndpoint ?? Endpoint(address: 0, port: configuration.port)
        self.shared = Mutex(SharedState(localEndpoint: configured))
        queue.setSpecific(key: queueKey, value: 1)
    }

    deinit {
        // Event handlers hold the runtime weakly, so none runs now; cancelling closes the socket.
        readSource?.cancel()
        timer?.cancel()
        buffer.deallocate()
    }

    /// The address the socket is bound to, with the port the system chose; before `start`, the configured one.
    public var localEndpoint: Endpoint { shared.withLock { $0.localEndpoint } }

    /// The counters so far.
    public var statistics: UDPStatistics { shared.withLock { $0.statistics } }

    /// Binds the socket and starts serving. Does nothing when already started; after `stop`, binds again.
    public func start() throws {
        try configuration.validate()
        try onQueue { () throws(UDPRuntimeError) in
            guard socket == nil, let endpoint = configuration.bindEndpoint else { return }
            let socket = try UDPSocket.bound(to: endpoint)
            self.socket = socket
            let bound = socket.localEndpoint() ?? endpoint
            shared.withLock { $0.localEndpoint = bound }
            if limiter == nil, let limit = configuration.rateLimit { limiter = RateLimiter(limit: limit) }

            let descriptor = socket.descriptor
            let readSource = DispatchSource.makeReadSource(fileDescriptor: descriptor, queue: queue)
            readSource.setEventHandler { [weak self] in self?.readPending() }
            readSource.setCancelHandler { close(descriptor) }
            self.readSource = readSource
            readSource.resume()

            let timer = DispatchSource.makeTimerSource(queue: queue)
            timer.setEventHandler { [weak self] in self?.timerFired() }
            timer.schedule(deadline: .distantFuture)
            self.timer = timer
            armedDeadline = nil
            timer.resume()
            rearm()
        }
    }

    /// Closes the socket and stops the sources. Safe to call more than once and from any thread, the runtime's
    /// own queue included.
    public func stop() {
        onQueue {
            readSource?.cancel()
            timer?.cancel()
            readSource = nil
            timer = nil
            socket = nil
            armedDeadline = nil
        }
    }

    /// Runs `body` on the runtime's queue with the service and the current time, later, and sends the datagrams it
    /// returns: how code outside the runtime starts work in the service (a lookup, an announce).
    public func withService(_ body: @escaping @Sendable (any DatagramService, Instant) -> [Datagram]) {
        queue.async { [self] in
            let outgoing = body(service, .monotonicNow())
            send(outgoing)
            rearm()
        }
    }

    /// Runs `body` on the runtime's queue and waits for it; sends the datagrams it returns and gives back its value.
    /// May be called from the runtime's own queue (inside the service), where it runs at once.
    public func sync<T>(_ body: (any DatagramService, Instant) throws -> (T, [Datagram])) rethrows -> T {
        try onQueue {
            let (value, outgoing) = try body(service, .monotonicNow())
            send(outgoing)
            rearm()
            return value
        }
    }

    // MARK: Queue work

    private func onQueue<T, Failure: Error>(_ body: () throws(Failure) -> T) throws(Failure) -> T {
        if DispatchQueue.getSpecific(key: queueKey) != nil { return try body() }
        let result: Result<T, Failure> = queue.sync {
            do throws(Failure) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func readPending() {
        guard let socket else { return }
        let maximum = configuration.maxDatagramSize
        for _ in 0..<Self.readsPerEvent {
            switch socket.receive(into: buffer) {
            case .wouldBlock:
                rearm()
                return
            case .failed(let code):
                if code != EINTR { shared.withLock { $0.statistics.receiveErrors += 1 } }
            case .datagram(let length, let source):
                guard length <= maximum else {
                    shared.withLock { $0.statistics.droppedOversize += 1 }
                    continue
                }
                let now = Instant.monotonicNow()
                if limiter?.allow(source.address, now: now) == false {
                    shared.withLock { $0.statistics.droppedRateLimited += 1 }
                    continue
                }
                shared.withLock {
                    $0.statistics.received += 1
                    $0.statistics.bytesReceived += length
                }
                let bytes = [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
                send(service.receive(bytes, from: source, now: now))
            }
        }
        rearm()
    }

    private func timerFired() {
        armedDeadline = nil
        // The dispatch clock and ours may differ by a little; never tick before the deadline the service asked for.
        if let deadline = service.nextDeadline, Instant.monotonicNow() >= deadline {
            send(service.tick(now: .monotonicNow()))
        }
        rearm()
    }

    private func send(_ datagrams: [Datagram]) {
        guard !datagrams.isEmpty else { return }
        var sent = 0
        var sentBytes = 0
        var failed = 0
        for datagram in datagrams {
            if let socket, datagram.bytes.count <= configuration.maxDatagramSize,
                socket.send(datagram.bytes, to: datagram.endpoint) == 0
            {
                sent += 1
                sentBytes += datagram.bytes.count
            } else {
                // A full socket buffer (EAGAIN) drops the datagram: UDP protocols retry on their own timers.
                failed += 1
            }
        }
        shared.withLock {
            $0.statistics.sent += sent
            $0.statistics.bytesSent += sentBytes
            $0.statistics.sendFailures += failed
        }
    }

    /// Points the timer at the service's deadline, after every call into the service.
    private func rearm() {
        guard let timer else { return }
        guard let deadline = service.nextDeadline else {
            if armedDeadline != nil {
                armedDeadline = nil
                timer.schedule(deadline: .distantFuture)
            }
            return
        }
        guard armedDeadline != deadline.nanoseconds else { return }
        armedDeadline = deadline.nanoseconds
        let delay = max(0, deadline.nanoseconds - Instant.monotonicNow().nanoseconds)
        timer.schedule(deadline: .now() + .nanoseconds(Int(delay)), leeway: .milliseconds(1))
    }
}
