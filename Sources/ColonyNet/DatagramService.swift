/// A datagram to send: the bytes and where they go.
public struct Datagram: Sendable, Hashable {
    /// The destination (for outgoing) or the source (for incoming).
    public var endpoint: Endpoint
    /// The payload.
    public var bytes: [UInt8]

    /// A datagram for `endpoint`.
    public init(_ bytes: [UInt8], to endpoint: Endpoint) {
        self.bytes = bytes
        self.endpoint = endpoint
    }
}

/// Sans-I/O protocol logic driven by a runtime over datagrams: the real UDP runtime or the simulated network.
///
/// The runtime owns the only copy and calls it from one thread at a time. Each call gets the current time and
/// returns the datagrams to send. `nextDeadline` tells the runtime when to call `tick` at the latest.
public protocol DatagramService: AnyObject {
    /// Handles one incoming datagram.
    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram]
    /// Advances timers.
    func tick(now: Instant) -> [Datagram]
    /// When the next timer is due, or nil when nothing waits on time.
    var nextDeadline: Instant? { get }
}
