/// Why a node did not store an announce_peer (BEP 5): the reason is also the key of its counter in
/// `DHTStatistics.announcesRefused`.
public struct AnnounceRefusal: Hashable, Sendable, CustomStringConvertible {
    /// A short phrase naming the cap or rule.
    public var reason: String

    /// A refusal for `reason`.
    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }

    /// Port 0, which no peer can listen on.
    public static let invalidPort = AnnounceRefusal(reason: "invalid port")
    /// The address already has `StorageLimits.maxPeersPerAddressPerInfoHash` peers under this info-hash.
    public static let addressFullInInfoHash = AnnounceRefusal(reason: "address full in info-hash")
    /// The address already has `StorageLimits.maxPeersPerAddress` peers stored over all info-hashes.
    public static let addressFull = AnnounceRefusal(reason: "address full")
    /// The info-hash already has `StorageLimits.maxPeersPerInfoHash` peers.
    public static let infoHashFull = AnnounceRefusal(reason: "info-hash full")
    /// `StorageLimits.maxInfoHashes` info-hashes are stored and this one is new.
    public static let storageFull = AnnounceRefusal(reason: "storage full")
}
