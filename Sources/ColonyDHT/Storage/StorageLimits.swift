/// How much a node stores for others, and for how long.
public struct StorageLimits: Sendable, Equatable {
    /// Immutable and mutable items together. At 1,000 bytes of value each, the default bounds item memory to a few
    /// megabytes.
    public var maxItems: Int = 3000
    /// Info-hashes with at least one announced peer.
    public var maxInfoHashes: Int = 3000
    /// Peers kept per info-hash.
    public var maxPeersPerInfoHash: Int = 200
    /// Peers one IPv4 address may have under one info-hash (one per port it announced). Without it, one address
    /// announcing made-up ports fills an info-hash's `maxPeersPerInfoHash` slots and honest announcers are refused;
    /// 8 still lets several peers behind one NAT address be found.
    public var maxPeersPerAddressPerInfoHash: Int = 8
    /// Peers one IPv4 address may have stored over all info-hashes, so that it cannot take the `maxInfoHashes`
    /// slots either. A holder announces each blob it holds, and a node stores only the keys close to it, so an
    /// honest address rarely has more than a few dozen here.
    public var maxPeersPerAddress: Int = 512
    /// Seconds an item lives after its last put: BEP 44 lets items expire after 2 hours and asks publishers to
    /// re-put hourly; libtorrent never uses less than 2 hours either.
    public var itemLifetime: Double = 2 * 60 * 60
    /// Seconds a peer lives after its last announce. Clients re-announce every 15 to 30 minutes (libtorrent: 15), so
    /// 30 minutes keeps every live peer and drops dead ones soon.
    public var peerLifetime: Double = 30 * 60

    /// The defaults.
    public init() {}

    /// Throws naming the first field that is out of range.
    public func validate() throws(StorageLimitsError) {
        guard maxItems >= 0 else {
            throw StorageLimitsError(field: "maxItems", value: "\(maxItems)", expected: "zero or more")
        }
        guard maxInfoHashes >= 0 else {
            throw StorageLimitsError(field: "maxInfoHashes", value: "\(maxInfoHashes)", expected: "zero or more")
        }
        guard maxPeersPerInfoHash >= 0 else {
            throw StorageLimitsError(
                field: "maxPeersPerInfoHash", value: "\(maxPeersPerInfoHash)", expected: "zero or more")
        }
        guard maxPeersPerAddressPerInfoHash >= 1 else {
            throw StorageLimitsError(
                field: "maxPeersPerAddressPerInfoHash", value: "\(maxPeersPerAddressPerInfoHash)",
                expected: "one or more")
        }
        guard maxPeersPerAddress >= 1 else {
            throw StorageLimitsError(
                field: "maxPeersPerAddress", value: "\(maxPeersPerAddress)", expected: "one or more")
        }
        // The upper bound keeps `Instant` arithmetic (nanoseconds in an Int64) far from overflow.
        guard itemLifetime > 0, itemLifetime <= Self.maxLifetime else {
            throw StorageLimitsError(
                field: "itemLifetime", value: "\(itemLifetime)", expected: "seconds above 0, at most one year")
        }
        guard peerLifetime > 0, peerLifetime <= Self.maxLifetime else {
            throw StorageLimitsError(
                field: "peerLifetime", value: "\(peerLifetime)", expected: "seconds above 0, at most one year")
        }
    }

    /// One year in seconds: the longest lifetime accepted.
    public static let maxLifetime: Double = 365 * 24 * 60 * 60
}
