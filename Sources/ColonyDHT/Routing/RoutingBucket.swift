import ColonyNet

/// One entry of a routing table: a node that has answered at least one of our queries, and how it behaved since.
struct RoutingEntry: Sendable {
    /// The node.
    var node: NodeInfo
    /// Unanswered queries in a row since its last response.
    var failures: UInt8
    /// Its last response to us, or its last query to us (queries count because it has answered before, BEP 5).
    var lastActive: Instant

    init(node: NodeInfo, lastActive: Instant) {
        self.node = node
        self.failures = 0
        self.lastActive = lastActive
    }
}

/// One k-bucket: the live nodes of one XOR-distance range from our ID, plus answered nodes kept in reserve.
///
/// Bucket `i` below the last holds the IDs that share exactly `i` leading bits with ours; the last bucket holds
/// those sharing at least as many bits as its index. Both arrays stay small (k and the cache size), so linear
/// scans beat any index here.
struct RoutingBucket: Sendable {
    /// Live nodes, at most `bucketSize`.
    var live: [RoutingEntry] = []
    /// Answered nodes waiting for room, oldest first, at most `replacementCacheSize`.
    var cache: [RoutingEntry] = []
    /// When a node was added, replaced, or answered us (BEP 5's "last changed"), or the bucket was refreshed.
    var lastChanged: Instant

    init(lastChanged: Instant) {
        self.lastChanged = lastChanged
    }

    func liveIndex(of id: NodeID) -> Int? { live.firstIndex { $0.node.id == id } }
    func cacheIndex(of id: NodeID) -> Int? { cache.firstIndex { $0.node.id == id } }

    /// The cache entry that should move in first: the one heard from most recently.
    var bestCacheIndex: Int? {
        guard var best = cache.indices.first else { return nil }
        for index in cache.indices where cache[index].lastActive >= cache[best].lastActive { best = index }
        return best
    }
}
