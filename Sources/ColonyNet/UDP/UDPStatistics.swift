/// Counters of a UDP runtime since it was made.
public struct UDPStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Datagrams handed to the service.
    public var received: Int = 0
    /// Datagrams the system accepted for sending.
    public var sent: Int = 0
    /// Bytes of the datagrams handed to the service.
    public var bytesReceived: Int = 0
    /// Bytes of the datagrams the system accepted for sending.
    public var bytesSent: Int = 0
    /// Incoming datagrams larger than `maxDatagramSize`, dropped.
    public var droppedOversize: Int = 0
    /// Incoming datagrams over their source address's rate limit, dropped.
    public var droppedRateLimited: Int = 0
    /// Outgoing datagrams not sent: the socket buffer was full, the system refused them, they were larger than
    /// `maxDatagramSize`, or the runtime was stopped.
    public var sendFailures: Int = 0
    /// Failed reads other than "nothing to read".
    public var receiveErrors: Int = 0

    /// All counters zero.
    public init() {}

    public var description: String {
        "received \(received), sent \(sent), dropped oversize \(droppedOversize), "
            + "dropped rate-limited \(droppedRateLimited), send failures \(sendFailures), "
            + "receive errors \(receiveErrors)"
    }
}
