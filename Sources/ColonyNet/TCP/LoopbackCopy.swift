import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bare speed of TCP on this machine: the reference that frame and blob transfer rates are compared against.
public enum LoopbackCopy {
    /// Sends `bytes` from one thread through a plain TCP socket on 127.0.0.1 to another thread that reads them
    /// into a reusable buffer and discards them; returns bytes per second, from the first write to the last read.
    public static func measure(bytes: Int, bufferSize: Int = 1 << 20) throws(FrameTransportError) -> Double {
        guard bytes > 0, bufferSize > 0 else {
            throw .invalidConfiguration("LoopbackCopy needs bytes and bufferSize above 0, got \(bytes), \(bufferSize)")
        }
        let listener = try StreamSocket.listening(on: Endpoint(address: 0x7F00_0001, port: 0), backlog: 1)
        defer { listener.close() }
        guard let address = listener.localEndpoint() else {
            throw .system(.listenFailed, "127.0.0.1", "cannot read the listening port")
        }
        let sender = try StreamSocket.connected(to: address, timeout: 10)
        defer { sender.close() }
        let receiver = try acceptOne(from: listener, address: address)
        defer { receiver.close() }
        // The same socket options as frame connections, so the comparison is of framing alone.
        try sender.configureConnected(endpoint: address.description)
        try receiver.configureConnected(endpoint: address.description)
        // Generous bounds so that a broken run fails instead of hanging.
        for socket in [sender, receiver] {
            socket.setReceiveTimeout(60)
            socket.setSendTimeout(60)
        }

        let received = Received()
        let done = DispatchSemaphore(value: 0)
        let started = DetachedThread.start(stackSize: 256 << 10) {
            received.set(readAll(bytes, from: receiver, bufferSize: bufferSize))
            done.signal()
        }
        guard started else { throw .system(.socketFailed, address.description, "cannot start the receiving thread") }

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
        let start = Instant.monotonicNow()
        var sent = 0
        var sendFailure: StreamSocket.SendResult?
        while sent < bytes {
            let count = min(bufferSize, bytes - sent)
            let result = sender.sendAll(
                UnsafeRawBufferPointer(rebasing: buffer[0..<count]), UnsafeRawBufferPointer(start: nil, count: 0),
                deadline: nil)
            guard case .sent = result else {
                sendFailure = result
                break
            }
            sent += count
        }
        if sendFailure != nil { receiver.shutdownBoth() }
        done.wait()
        let elapsed = Instant.monotonicNow().seconds(since: start)
        if case .failed(let code) = sendFailure {
            throw FrameTransportError(
                code: .socketFailed, endpoint: address.description, message: "cannot send", errorNumber: code)
        }
        if sendFailure != nil {
            throw FrameTransportError(code: .timedOut, endpoint: address.description, message: "the receiver stalled")
        }
        guard received.get() == bytes else {
            throw FrameTransportError(
                code: .closed, endpoint: address.description,
                message: "the receiver got \(received.get()) of \(bytes) bytes")
        }
        return Double(bytes) / max(elapsed, 1e-9)
    }

    /// What the receiving thread counted; written once before the semaphore is signalled, read after.
    private final class Received: @unchecked Sendable {
        private var count = 0
        func set(_ value: Int) { count = value }
        func get() -> Int { count }
    }

    private static func readAll(_ bytes: Int, from socket: StreamSocket, bufferSize: Int) -> Int {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferSize, alignment: 64)
        defer { buffer.deallocate() }
        var total = 0
        while total < bytes {
            guard
                case .received(let count) = socket.receive(
                    into: buffer.baseAddress!, count: min(bufferSize, bytes - total), waitAll: false, deadline: nil)
            else { break }
            total += count
        }
        return total
    }

    private static func acceptOne(
        from listener: StreamSocket, address: Endpoint
    ) throws(FrameTransportError)
        -> StreamSocket
    {
        for _ in 0..<1000 {
            switch listener.accept() {
            case .connection(let socket, _): return socket
            case .failed(let code):
                throw FrameTransportError(
                    code: .listenFailed, endpoint: address.description, message: "cannot accept", errorNumber: code)
            case .wouldBlock:
                var entry = pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&entry, 1, 10)
            }
        }
        throw FrameTransportError(code: .timedOut, endpoint: address.description, message: "no connection arrived")
    }
}
