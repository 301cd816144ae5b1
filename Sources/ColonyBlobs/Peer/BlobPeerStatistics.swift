/// Counters of what a `BlobPeer` was asked to do for others and refused.
public struct BlobPeerStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Replica requests that ended with a verified, pinned and announced copy.
    public var replicasAccepted = 0
    /// Replica requests refused, by reason: `notAccepting`, `notWanted`, `busy`, `tooLarge`, `fetchFailed`.
    public var replicasRefused: [String: Int] = [:]

    /// A replica request while `acceptsReplicas` is false.
    public static let notAccepting = "not accepting"
    /// A replica request `acceptsReplica` said no to.
    public static let notWanted = "not wanted"
    /// A replica request while `maxPendingReplicas` were already in progress.
    public static let busy = "busy"
    /// A replica whose manifest declares more than `maxReplicaSize` bytes.
    public static let tooLarge = "too large"
    /// A replica that could not be fetched from the asker or the blob's holders.
    public static let fetchFailed = "fetch failed"

    /// All counters zero.
    public init() {}

    /// Replica requests refused, for every reason.
    public var replicasRefusedTotal: Int { replicasRefused.values.reduce(0, +) }

    public var description: String {
        let refused = replicasRefused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return "replicas accepted \(replicasAccepted), refused \(replicasRefusedTotal)"
            + (refused.isEmpty ? "" : " (" + refused.joined(separator: ", ") + ")")
    }
}
