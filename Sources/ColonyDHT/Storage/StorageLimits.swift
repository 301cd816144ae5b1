/// How much a node stores for others, and for how long.
public struct StorageLimits: Sendable, Equatable {
    /// Immutable and mutable items together. At 1,000 bytes of value each, the default bounds item memory to a few
    /// megabytes.
    public var maxItems: Int = 3000
    /// Info-hashes with at least one announced peer.
    public var maxInfoHashes: Int = 3000
    /// Peers kept per info-hash.
    public var maxPeersPerInfoHash: Int = 200
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
