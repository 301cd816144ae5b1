/// Counters of a `FrameServer` since it was made.
public struct FrameServerStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Connections accepted and served.
    public var accepted: Int = 0
    /// Connections accepted and closed at once: `maxConnections` were already open, or no thread could be started.
    public var refusedOverLimit: Int = 0
    /// Connections accepted and closed at once because their address already had
    /// `FrameServerProtection.maxConnectionsPerAddress` open.
    public var refusedPerAddress: Int = 0
    /// Connections closed because a frame's announced size would have taken the request bytes held over
    /// `FrameServerProtection.maxRequestBytesInFlight`; nothing past the frame's lengths was read.
    public var refusedOverMemory: Int = 0
    /// Request frames over their address's `FrameServerProtection.requestRate`: answered with the overload reply,
    /// or dropped, without reaching the handler.
    public var framesRateLimited: Int = 0
    /// Connections closed because a frame began but was not whole within its allowance
    /// (`FrameServerProtection.frameTimeout` plus its size at `minimumFrameRate`): a client trickling bytes.
    public var closedSlowFrame: Int = 0
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
    /// Bytes of request frames held now (being read, or waiting for their replies to go out), over all
    /// connections; never above `FrameServerProtection.maxRequestBytesInFlight`.
    public var requestBytesInFlight: Int = 0

    /// Connections refused or cut short, by reason: "over limit", "per address", "over memory", "slow frame",
    /// "idle", "protocol error", "send failure"; plus "rate limited" for frames. Zero counts are left out.
    public var refusals: [String: Int] {
        let all = [
            ("over limit", refusedOverLimit), ("per address", refusedPerAddress), ("over memory", refusedOverMemory),
            ("slow frame", closedSlowFrame), ("idle", closedIdle), ("protocol error", protocolErrors),
            ("send failure", sendFailures), ("rate limited", framesRateLimited),
        ]
        return Dictionary(uniqueKeysWithValues: all.filter { $0.1 > 0 })
    }

    /// All counters zero.
    public init() {}

    public var description: String {
        "accepted \(accepted), refused over limit \(refusedOverLimit), refused per address \(refusedPerAddress), "
            + "refused over memory \(refusedOverMemory), rate limited \(framesRateLimited), "
            + "closed idle \(closedIdle), closed slow frame \(closedSlowFrame), protocol errors \(protocolErrors), "
            + "send failures \(sendFailures), frames in \(framesIn), frames out \(framesOut), bytes in \(bytesIn), bytes out \(bytesOut), open \(open)"
    }
}
