/// Sans-I/O token buckets per IPv4 address, in a table of bounded size.
///
/// When the table is full, a new address replaces the one that entered the table earliest (a ring of addresses in
/// insertion order makes that O(1)). The forgotten address starts again with a full bucket, which only helps a
/// sender that owns more addresses than the table holds, and such a sender gets `burst` per address anyway.
public struct RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Int64
    }

    /// The limit applied.
    public let limit: RateLimit
    private var buckets: [UInt32: Bucket] = [:]
    private var order: [UInt32] = []
    private var oldest = 0
    private let tokensPerNanosecond: Double

    /// A limiter with no address tracked yet.
    public init(limit: RateLimit) {
        self.limit = limit
        self.tokensPerNanosecond = limit.datagramsPerSecond / 1e9
        buckets.reserveCapacity(min(limit.trackedAddresses, 4096))
    }

    /// How many addresses are tracked now.
    public var trackedCount: Int { buckets.count }

    /// Takes one token from `address`'s bucket at `now`; false when it is empty and the datagram should be dropped.
    public mutating func allow(_ address: UInt32, now: Instant) -> Bool {
        let time = now.nanoseconds
        if let index = buckets.index(forKey: address) {
            var bucket = buckets.values[index]
            // A clock that goes backwards (never, with a monotonic one) must not drain the bucket.
            let elapsed = Double(max(0, time - bucket.updated))
            bucket.tokens = min(limit.burst, bucket.tokens + elapsed * tokensPerNanosecond)
            bucket.updated = time
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets.values[index] = bucket
            return allowed
        }
        if order.count < limit.trackedAddresses {
            order.append(address)
        } else {
            buckets.removeValue(forKey: order[oldest])
            order[oldest] = address
            oldest = (oldest + 1) % order.count
        }
        buckets[address] = Bucket(tokens: limit.burst - 1, updated: time)
        return true
    }
}
