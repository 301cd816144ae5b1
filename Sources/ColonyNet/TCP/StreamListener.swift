import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A listening socket whose waiting connections a read source accepts, on a queue of its own, and hands to
/// `admit`, which owns each socket from then on. Shared by `FrameServer` and `HTTPServer`.
///
/// `@unchecked Sendable`: the fields are constants or behind a `Mutex`, and a Dispatch source is thread-safe.
final class StreamListener: @unchecked Sendable {
    /// The address listened on, with the port the system chose.
    let localEndpoint: Endpoint
    private let source: any DispatchSourceRead
    /// Signalled by the source's cancel handler once the socket is closed.
    private let closed = DispatchSemaphore(value: 0)
    private let cancelled = Mutex(false)

    /// Listens on `endpoint` and starts accepting on `queue`.
    init(
        on endpoint: Endpoint, backlog: Int32, queue: DispatchQueue,
        admit: @escaping @Sendable (StreamSocket, Endpoint) -> Void
    ) throws(FrameTransportError) {
        let listener = try StreamSocket.listening(on: endpoint, backlog: backlog)
        localEndpoint = listener.localEndpoint() ?? endpoint
        source = DispatchSource.makeReadSource(fileDescriptor: listener.descriptor, queue: queue)
        source.setEventHandler { Self.acceptPending(from: listener, admit: admit) }
        source.setCancelHandler { [closed] in
            listener.close()
            closed.signal()
        }
        source.resume()
    }

    deinit {
        cancel()
    }

    /// Stops accepting and returns once the socket is closed, so the port is free again. Safe to call more than
    /// once.
    func close() {
        if cancel() { closed.wait() }
    }

    /// Stops accepting without waiting for the close; true the first time.
    @discardableResult
    private func cancel() -> Bool {
        let first = cancelled.withLock { cancelled in
            defer { cancelled = true }
            return !cancelled
        }
        if first { source.cancel() }
        return first
    }

    private static func acceptPending(
        from listener: StreamSocket, admit: @Sendable (StreamSocket, Endpoint) -> Void
    ) {
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
                admit(socket, peer)
            }
        }
    }
}

/// The sockets of a thread-per-connection server: its listener, and each open connection's socket with the thread
/// serving it once that thread has started, so that `stop` can wake them all and know whether it runs on one.
struct ServerSockets {
    /// The listener while the server runs.
    var listener: StreamListener?
    /// Whether the server runs: from `start` until `stop`.
    var running = false
    private struct Entry {
        let socket: StreamSocket
        var thread: pthread_t?
    }

    private var entries: [UInt64: Entry] = [:]
    private var nextID: UInt64 = 1

    /// How many connections are open.
    var count: Int { entries.count }

    /// Adds a connection on `socket`; returns its ID.
    mutating func insert(_ socket: StreamSocket) -> UInt64 {
        let id = nextID
        nextID += 1
        entries[id] = Entry(socket: socket)
        return id
    }

    /// Records that the calling thread serves connection `id`.
    mutating func servedByCurrentThread(_ id: UInt64) {
        entries[id]?.thread = pthread_self()
    }

    /// Forgets connection `id` (its thread closes the socket).
    mutating func remove(_ id: UInt64) {
        entries[id] = nil
    }

    /// Marks the server stopped and takes its listener (for the caller to close outside the lock); true as well
    /// when the calling thread serves a connection and so must not wait for the connection threads.
    mutating func stop() -> (listener: StreamListener?, calledFromConnection: Bool) {
        running = false
        defer { listener = nil }
        return (listener, shutDownAll())
    }

    /// Shuts every socket down, which wakes its thread's blocked read or write while the thread still owns (and
    /// closes) the descriptor; true when the calling thread serves one of them and so must not wait for them.
    private func shutDownAll() -> Bool {
        let current = pthread_self()
        var calledFromConnection = false
        for entry in entries.values {
            entry.socket.shutdownBoth()
            if let thread = entry.thread, pthread_equal(thread, current) != 0 { calledFromConnection = true }
        }
        return calledFromConnection
    }
}
