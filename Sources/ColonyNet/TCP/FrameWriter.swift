/// Writes frames to a stream socket: a large payload goes to the kernel from the frame's own array, next to its
/// header in one `sendmsg`; small frames are gathered into one buffer so a batch of requests leaves in one segment.
enum FrameWriter {
    /// What writing a batch gave.
    enum Outcome {
        /// Every frame went out; `bytes` on the wire.
        case sent(bytes: Int)
        /// A frame is over the limits or over 32-bit lengths; nothing was sent.
        case tooLarge(String)
        /// The peer did not take the bytes in time.
        case timedOut
        /// A write failed with this `errno`.
        case failed(Int32)
    }

    /// Payloads up to this size are copied next to their header: one copy of a few KiB costs less than a system call.
    static let gatherLimit = 16 << 10
    /// Gathered bytes are sent once they reach this much.
    static let flushSize = 256 << 10

    /// Writes `frames` in order. Without a `deadline`, each wait is bounded by the socket's own send timeout.
    static func send(
        _ frames: some Collection<Frame>, on socket: StreamSocket, limits: FrameLimits, deadline: Instant?
    ) -> Outcome {
        // Encode and check every header first, so that a bad frame sends nothing of the batch.
        var heads: [[UInt8]] = []
        heads.reserveCapacity(frames.count)
        var total = 0
        for (index, frame) in frames.enumerated() {
            let head = frame.encodedPrefixAndHeader(
                reservingExtra: frame.payload.count <= gatherLimit ? frame.payload.count : 0)
            let headerLength = head.count - Frame.prefixLength
            guard headerLength <= limits.maxHeader else {
                return .tooLarge(
                    "frame \(index) of \(frames.count) has a \(headerLength)-byte header; the limit is \(limits.maxHeader)"
                )
            }
            guard frame.payload.count <= limits.maxPayload else {
                return .tooLarge(
                    "frame \(index) of \(frames.count) has a \(frame.payload.count)-byte payload; "
                        + "the limit is \(limits.maxPayload)")
            }
            total += head.count + frame.payload.count
            heads.append(head)
        }

        var pending: [UInt8] = []
        for (head, frame) in zip(heads, frames) {
            if frame.payload.count <= gatherLimit {
                if pending.isEmpty {
                    pending = head
                } else {
                    pending.append(contentsOf: head)
                }
                pending.append(contentsOf: frame.payload)
                if pending.count >= flushSize {
                    if let failure = write(pending, [], on: socket, deadline: deadline) { return failure }
                    pending = []
                }
            } else {
                pending.append(contentsOf: head)
                if let failure = write(pending, frame.payload, on: socket, deadline: deadline) { return failure }
                pending = []
            }
        }
        if !pending.isEmpty, let failure = write(pending, [], on: socket, deadline: deadline) { return failure }
        return .sent(bytes: total)
    }

    private static func write(
        _ first: [UInt8], _ second: [UInt8], on socket: StreamSocket, deadline: Instant?
    )
        -> Outcome?
    {
        let result = first.withUnsafeBytes { head in
            second.withUnsafeBytes { payload in socket.sendAll(head, payload, deadline: deadline) }
        }
        switch result {
        case .sent: return nil
        case .timedOut: return .timedOut
        case .failed(let code): return .failed(code)
        }
    }
}
