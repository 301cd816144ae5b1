/// Counters of a `FrameServer` since it was made.
public struct FrameServerStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Connections accepted and served.
    public var accepted: Int = 0
    /// Connections accepted and closed at once: `maxConnections` were already open, or no thread could be started.
    public var refusedOverLimit: Int = 0
    /// Connections closed because the peer sent nothing, stalled in a frame, or took no reply for `idleTimeout`.
    public var closedIdle: Int = 0
    /// Connections closed for breaking the frame format: a length over the limits, a header that is not a bencoded
    /// dictionary, a close or reset in the middle of a frame.
    public var protocolErrors: Int = 0
    /// Connections closed because a reply could not be sent: the peer reset the connection, or the handler returned
    /// a frame over the limits.
    public var sendFailures: Int = 0
    /// Whole request frames read.
    public var framesIn: Int = 0
    /// Reply frames sent.
    public var framesOut: Int = 0
    /// Bytes of whole request frames, lengths and headers included.
    public var bytesIn: Int = 0
    /// Bytes of reply frames sent, lengths and headers included.
    public var bytesOut: Int = 0
    /// Connections open now.
    public var open: Int = 0

    /// All counters zero.
    public init() {}

    public var description: String {
        "accepted \(accepted), refused over limit \(refusedOverLimit), closed idle \(closedIdle), "
            + "protocol errors \(protocolErrors), send failures \(sendFailures), frames in \(framesIn), "
            + "frames out \(framesOut), bytes in \(bytesIn), bytes out \(bytesOut), open \(open)"
    }
}
