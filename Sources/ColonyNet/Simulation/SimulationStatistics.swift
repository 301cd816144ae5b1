/// Counters of a simulated network: since it was made, or over one run.
public struct SimulationStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Datagrams services handed to the network.
    public var sent: Int = 0
    /// Datagrams handed to their destination's `receive`.
    public var delivered: Int = 0
    /// Datagrams dropped by the loss draw.
    public var lost: Int = 0
    /// Datagrams that arrived at a killed node and vanished.
    public var toDead: Int = 0
    /// Datagrams addressed to an endpoint where no service was ever added.
    public var unroutable: Int = 0
    /// Datagrams dropped because source and destination were in different partition groups on arrival.
    public var partitioned: Int = 0
    /// Timer events that called a service's `tick`.
    public var ticks: Int = 0
    /// Operations injected with `perform`.
    public var performed: Int = 0
    /// Events taken off the queue, stale timer events included.
    public var events: Int = 0

    /// All counters zero.
    public init() {}

    /// The counts of `self` minus those of `earlier`: what happened in between.
    public func subtracting(_ earlier: SimulationStatistics) -> SimulationStatistics {
        var result = SimulationStatistics()
        result.sent = sent - earlier.sent
        result.delivered = delivered - earlier.delivered
        result.lost = lost - earlier.lost
        result.toDead = toDead - earlier.toDead
        result.unroutable = unroutable - earlier.unroutable
        result.partitioned = partitioned - earlier.partitioned
        result.ticks = ticks - earlier.ticks
        result.performed = performed - earlier.performed
        result.events = events - earlier.events
        return result
    }

    public var description: String {
        "sent \(sent), delivered \(delivered), lost \(lost), to dead \(toDead), unroutable \(unroutable), "
            + "partitioned \(partitioned), ticks \(ticks), performed \(performed), events \(events)"
    }
}
