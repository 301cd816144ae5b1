/// A per-address token bucket: each source address may send `datagramsPerSecond` on average and `burst` at once;
/// at most `trackedAddresses` addresses are remembered.
public struct RateLimit: Sendable, Hashable {
    /// Tokens added per second to each address's bucket.
    public var datagramsPerSecond: Double
    /// The bucket size: how many datagrams an idle address may send at once.
    public var burst: Double
    /// How many addresses are tracked at most; beyond that the oldest entry is forgotten, so a flood from many
    /// addresses cannot grow memory.
    public var trackedAddresses: Int

    /// A limit of `datagramsPerSecond` with bursts of `burst`, tracking up to `trackedAddresses` addresses.
    public init(datagramsPerSecond: Double = 100, burst: Double = 200, trackedAddresses: Int = 4096) {
        self.datagramsPerSecond = datagramsPerSecond
        self.burst = burst
        self.trackedAddresses = trackedAddresses
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(UDPConfigurationError) {
        guard datagramsPerSecond.isFinite, datagramsPerSecond >= 0 else {
            throw UDPConfigurationError(
                field: "rateLimit.datagramsPerSecond",
                message: "must be a non-negative number, got \(datagramsPerSecond)")
        }
        guard burst.isFinite, burst >= 1 else {
            throw UDPConfigurationError(field: "rateLimit.burst", message: "must be at least 1, got \(burst)")
        }
        guard trackedAddresses >= 1, trackedAddresses <= 1 << 24 else {
            throw UDPConfigurationError(
                field: "rateLimit.trackedAddresses", message: "must be between 1 and 16777216, got \(trackedAddresses)")
        }
    }
}
