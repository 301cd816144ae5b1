import ColonyCore

/// Reads frames from a stream socket, checking both lengths before allocating anything for a frame.
///
/// A small read-ahead buffer takes the lengths, the header and often whole small frames in one system call; a large
/// payload is read straight into its own array, so its bytes are copied once, by the kernel.
struct FrameReader: ~Copyable {
    /// What one `next` gave.
    enum Outcome {
        /// A whole frame, which took `wireLength` bytes on the wire.
        case frame(Frame, wireLength: Int)
        /// The peer closed the connection between frames.
        case closed
        /// Nothing more came in time; `midFrame` when part of a frame had arrived.
        case timedOut(midFrame: Bool)
        /// A read failed with this `errno`; `midFrame` when part of a frame had arrived.
        case failed(Int32, midFrame: Bool)
        /// The peer broke the frame format: a length over the limits, a bad header, or a close in mid-frame.
        case violation(FrameTransportError.Code, String)
        /// With pacing: a frame began but did not end within its allowance (`FrameServerProtection.frameTimeout`
        /// plus its size at `minimumFrameRate`).
        case overdue
        /// `reserve` refused the frame's announced bytes; nothing of the frame past its lengths was read.
        case refused(bytes: Int)
    }

    /// The bounds a server reads under: each wait at most `idleTimeout`, and every frame whole within its
    /// allowance from its first byte.
    struct Pacing {
        var idleTimeout: Double
        var protection: FrameServerProtection
    }

    /// The read-ahead buffer's size: small, since every connection has one, yet enough for a request frame.
    static let bufferSize = 8 << 10

    let limits: FrameLimits
    /// Set on a server's reader; a client bounds its reads with the deadline it passes instead.
    let pacing: Pacing?
    private let decoder: BencodeDecoder
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    /// Buffered bytes not yet consumed are `buffer[start..<end]`.
    private var start = 0
    private var end = 0
    /// With pacing: when the frame being read must be complete; nil between frames.
    private var frameDeadline: Instant?
    /// With pacing: the socket's receive timeout was shortened for a wait inside a frame and must be set back to
    /// the idle timeout before the next wait between frames.
    private var timeoutShortened = false

    init(limits: FrameLimits, pacing: Pacing? = nil) {
        self.limits = limits
        self.pacing = pacing
        self.decoder = BencodeDecoder(limits: limits.headerDecoding)
        self.buffer = .allocate(capacity: Self.bufferSize)
    }

    deinit {
        buffer.deallocate()
    }

    private var buffered: Int { end - start }

    /// Reads the next frame. Without a `deadline`, each wait is bounded by the socket's own receive timeout (and,
    /// with pacing, by the frame's allowance). `reserve` is asked for the frame's wire length once both lengths
    /// are read and checked, before anything is allocated for it; when it says no, nothing more is read.
    mutating func next(from socket: StreamSocket, deadline: Instant?, reserve: ((Int) -> Bool)? = nil) -> Outcome {
        defer { frameDeadline = nil }
        // Bytes of the next frame already buffered (pipelined) start its clock now; otherwise its first byte does.
        if let pacing, buffered > 0 {
            frameDeadline = Instant.monotonicNow().adding(seconds: pacing.protection.frameTimeout)
        }
        if let failure = fill(atLeast: Frame.prefixLength, from: socket, deadline: deadline) {
            return buffered == 0 && failure.isEndOfStream ? .closed : failure.outcome(midFrame: buffered > 0)
        }
        let headerLength = Int(loadBigEndian(at: start))
        let payloadLength = Int(loadBigEndian(at: start + 4))
        guard headerLength <= limits.maxHeader else {
            return .violation(
                .headerTooLarge, "the peer announced a \(headerLength)-byte header; the limit is \(limits.maxHeader)")
        }
        guard payloadLength <= limits.maxPayload else {
            return .violation(
                .payloadTooLarge,
                "the peer announced a \(payloadLength)-byte payload; the limit is \(limits.maxPayload)")
        }
        let wireLength = Frame.prefixLength + headerLength + payloadLength
        if let reserve, !reserve(wireLength) { return .refused(bytes: wireLength) }
        if let pacing, let begun = frameDeadline {
            // The lengths are known now: a large frame gets time in proportion to its size.
            frameDeadline = begun.adding(seconds: Double(wireLength) / pacing.protection.minimumFrameRate)
        }
        start += Frame.prefixLength

        let decoded: Result<BencodeValue, BencodeError>
        if headerLength <= buffer.count {
            if let failure = fill(atLeast: headerLength, from: socket, deadline: deadline) {
                return failure.outcome(midFrame: true)
            }
            decoded = Result { () throws(BencodeError) in
                try decoder.decode(UnsafeBufferPointer(rebasing: buffer[start..<start + headerLength]))
            }
            start += headerLength
        } else {
            var failure: ReadFailure?
            let bytes = readArray(count: headerLength, from: socket, deadline: deadline, failure: &failure)
            if let failure { return failure.outcome(midFrame: true) }
            decoded = Result { () throws(BencodeError) in try decoder.decode(bytes) }
        }
        let header: BencodeDictionary
        switch decoded {
        case .success(.dictionary(let dictionary)):
            header = dictionary
        case .success:
            return .violation(.malformedHeader, "the frame header is bencode but not a dictionary")
        case .failure(let error):
            return .violation(.malformedHeader, "the frame header is not canonical bencode: \(error)")
        }

        var failure: ReadFailure?
        let payload = readArray(count: payloadLength, from: socket, deadline: deadline, failure: &failure)
        if let failure { return failure.outcome(midFrame: true) }
        return .frame(Frame(header: header, payload: payload), wireLength: wireLength)
    }

    // MARK: Reading

    /// Why a read stopped short.
    private enum ReadFailure {
        case endOfStream
        case timedOut
        /// The frame's allowance ran out (pacing only).
        case overdue
        case failed(Int32)

        var isEndOfStream: Bool {
            if case .endOfStream = self { return true }
            return false
        }

        func outcome(midFrame: Bool) -> Outcome {
            switch self {
            case .endOfStream: .violation(.closed, "the peer closed the connection in the middle of a frame")
            case .timedOut: .timedOut(midFrame: midFrame)
            case .overdue: .overdue
            case .failed(let code): .failed(code, midFrame: midFrame)
            }
        }
    }

    /// Reads until at least `count` (at most `buffer.count`) bytes are buffered.
    private mutating func fill(atLeast count: Int, from socket: StreamSocket, deadline: Instant?) -> ReadFailure? {
        while buffered < count {
            if buffered == 0 {
                start = 0
                end = 0
            } else if buffer.count - start < count {
                // Too little room after `start`: move the unread bytes to the front.
                let base = buffer.baseAddress!
                (base).update(from: base + start, count: buffered)
                end = buffered
                start = 0
            }
            switch receive(
                into: buffer.baseAddress! + end, count: buffer.count - end, waitAll: false, from: socket,
                deadline: deadline)
            {
            case .received(let length): end += length
            case .endOfStream: return .endOfStream
            case .timedOut: return isOverdue ? .overdue : .timedOut
            case .failed(let code): return .failed(code)
            }
        }
        return nil
    }

    /// Reads exactly `count` bytes into a new array: first what is buffered, then straight from the socket.
    private mutating func readArray(
        count: Int, from socket: StreamSocket, deadline: Instant?, failure: inout ReadFailure?
    ) -> [UInt8] {
        guard count > 0 else { return [] }
        var problem: ReadFailure?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { destination, initialized in
            let fromBuffer = min(buffered, count)
            destination.baseAddress!.initialize(from: buffer.baseAddress! + start, count: fromBuffer)
            start += fromBuffer
            var filled = fromBuffer
            while filled < count {
                switch receive(
                    into: destination.baseAddress! + filled, count: count - filled, waitAll: true, from: socket,
                    deadline: deadline)
                {
                case .received(let length): filled += length
                case .endOfStream: problem = .endOfStream
                case .timedOut: problem = isOverdue ? .overdue : .timedOut
                case .failed(let code): problem = .failed(code)
                }
                if problem != nil { break }
            }
            initialized = filled
        }
        failure = problem
        return bytes
    }

    /// One read from the socket. With pacing, a wait inside a frame is bounded by both the idle timeout and the
    /// frame's deadline, and the first byte of a frame starts that deadline.
    private mutating func receive(
        into destination: UnsafeMutableRawPointer, count: Int, waitAll: Bool, from socket: StreamSocket,
        deadline: Instant?
    ) -> StreamSocket.ReceiveResult {
        guard let pacing else {
            return socket.receive(into: destination, count: count, waitAll: waitAll, deadline: deadline)
        }
        var bound = deadline
        if let frameDeadline {
            let idle = Instant.monotonicNow().adding(seconds: pacing.idleTimeout)
            bound = min(deadline ?? frameDeadline, frameDeadline, idle)
            timeoutShortened = true
        } else if timeoutShortened, deadline == nil {
            socket.setReceiveTimeout(pacing.idleTimeout)
            timeoutShortened = false
        }
        let result = socket.receive(into: destination, count: count, waitAll: waitAll, deadline: bound)
        if case .received = result, frameDeadline == nil {
            frameDeadline = Instant.monotonicNow().adding(seconds: pacing.protection.frameTimeout)
        }
        return result
    }

    /// True when the frame being read has passed its deadline.
    private var isOverdue: Bool {
        guard let frameDeadline else { return false }
        return Instant.monotonicNow() >= frameDeadline
    }

    private func loadBigEndian(at offset: Int) -> UInt32 {
        UInt32(buffer[offset]) << 24 | UInt32(buffer[offset + 1]) << 16 | UInt32(buffer[offset + 2]) << 8
            | UInt32(buffer[offset + 3])
    }
}
