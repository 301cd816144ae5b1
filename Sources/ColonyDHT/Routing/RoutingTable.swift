import ColonyNet

/// A Kademlia routing table (BEP 5): k-buckets of nodes that answered us, split along our own ID, with a
/// replacement cache per bucket and libtorrent-style IP diversity limits.
///
/// Sans-I/O: it never sends anything and never reads a clock. The node tells it what happened (`heard`,
/// `failed`) with the current `Instant`, and asks it what to do (`nodesToPing`, `refreshTargets`). Only nodes that
/// have answered one of our queries enter it: a node that has only queried us comes back as `.unverified`, and the
/// node should ping it and report the answer with `heard(from:.response,now:)`.
public struct RoutingTable: Sendable {
    /// Our node ID: the bucket ranges are defined by distance to it.
    public private(set) var ownID: NodeID
    /// The limits and timers in force.
    public let configuration: RoutingConfiguration
    /// Bucket `i` holds the IDs sharing exactly `i` leading bits with `ownID`; the last one holds all that share
    /// at least `buckets.count - 1`. Never empty.
    var buckets: [RoutingBucket]
    /// Draws refresh targets; seeded from the first own ID so simulations replay exactly.
    var random: RoutingRandom

    /// The most buckets a table can have: one per bit of the ID.
    public static let maximumBucketCount = NodeID.bitCount

    /// An empty table (one bucket covering the whole ID space) for the node `ownID`.
    public init(ownID: NodeID, configuration: RoutingConfiguration = .init(), now: Instant) {
        self.ownID = ownID
        self.configuration = configuration
        self.buckets = [RoutingBucket(lastChanged: now)]
        self.random = RoutingRandom(seed: ownID.high ^ ownID.middle ^ UInt64(ownID.low))
    }

    /// How we heard from a node.
    public enum Contact: Sendable, Hashable {
        /// It answered one of our queries: proof that it is reachable at that endpoint.
        case response
        /// It sent us a query: it counts only if it has answered us before (BEP 5).
        case query
    }

    /// What `heard(from:_:now:)` did with the node.
    public enum Insertion: Sendable, Hashable {
        /// It is now a live node of its bucket (new, or in place of a bad node, or moved in from the cache).
        case added
        /// It was already live; its activity was recorded.
        case updated
        /// Its bucket is full of good or questionable nodes; it waits in the bucket's replacement cache.
        case cached
        /// It has only queried us and never answered: not stored. Ping it and report the answer to add it.
        case unverified
        /// Refused: our own ID, an IP diversity limit, or a known ID claimed from another endpoint.
        case rejected
    }

    /// BEP 5's view of a live node.
    public enum NodeState: Sendable, Hashable {
        /// Active within `questionableAfter` and no unanswered query since.
        case good
        /// Silent for `questionableAfter`, or one unanswered query: worth a ping.
        case questionable
        /// `badAfterFailures` unanswered queries in a row: first to be replaced, never handed out.
        case bad
    }

    // MARK: Events

    /// Records a response from, or a query by, `node`, adding it to the table when it qualifies.
    ///
    /// A full bucket is split when it holds our own ID; otherwise a bad node makes room; otherwise the node goes to
    /// the bucket's replacement cache. A response from an endpoint that a live entry holds under another ID
    /// replaces that entry: the node there has changed its ID (BEP 42 restart).
    @discardableResult
    public mutating func heard(from node: NodeInfo, _ contact: Contact, now: Instant) -> Insertion {
        guard node.id != ownID else { return .rejected }
        let bucket = bucketIndex(for: node.id)
        if let index = buckets[bucket].liveIndex(of: node.id) {
            let existing = buckets[bucket].live[index]
            if existing.node.endpoint == node.endpoint {
                buckets[bucket].live[index].lastActive = now
                if contact == .response {
                    buckets[bucket].live[index].failures = 0
                    buckets[bucket].lastChanged = now
                }
                return .updated
            }
            // Another endpoint claims a live ID. Believe it only once the old endpoint has stopped answering and
            // the new one answers, or anyone could hijack an entry with one forged query.
            guard contact == .response, existing.failures > 0 else { return .rejected }
            removeLive(bucket: bucket, index: index)
        } else if let index = buckets[bucket].cacheIndex(of: node.id) {
            let existing = buckets[bucket].cache[index]
            if existing.node.endpoint == node.endpoint {
                guard contact == .response else {
                    buckets[bucket].cache[index].lastActive = now
                    return .cached
                }
                // It answered again: take it out and place it anew, which may find it a live slot.
                buckets[bucket].cache.remove(at: index)
                var entry = existing
                entry.failures = 0
                entry.lastActive = now
                return insert(entry, now: now)
            }
            guard contact == .response else { return .rejected }
            buckets[bucket].cache.remove(at: index)
        }
        guard contact == .response else { return admits(node) ? .unverified : .rejected }
        removeStaleEntries(at: node.endpoint, keeping: node.id)
        guard admits(node) else { return .rejected }
        return insert(RoutingEntry(node: node, lastActive: now), now: now)
    }

    /// Records that a query to node `id` went unanswered (timeout or error reply).
    ///
    /// Once it has failed `badAfterFailures` times in a row it is bad; a bad node is replaced at once by the most
    /// recently heard node of its bucket's cache, or, when the cache is empty, stays until a newcomer needs its slot.
    /// A cached node that fails is dropped from the cache.
    public mutating func failed(_ id: NodeID, now: Instant) {
        let bucket = bucketIndex(for: id)
        if let index = buckets[bucket].liveIndex(of: id) {
            let failures = buckets[bucket].live[index].failures
            buckets[bucket].live[index].failures = failures == .max ? failures : failures + 1
            guard isBad(buckets[bucket].live[index]), let best = buckets[bucket].bestCacheIndex else { return }
            buckets[bucket].live[index] = buckets[bucket].cache.remove(at: best)
            buckets[bucket].lastChanged = now
        } else if let index = buckets[bucket].cacheIndex(of: id) {
            buckets[bucket].cache.remove(at: index)
        }
    }

    /// Forgets node `id` (live or cached); a freed live slot is taken by the best cached node.
    public mutating func remove(_ id: NodeID) {
        let bucket = bucketIndex(for: id)
        if let index = buckets[bucket].liveIndex(of: id) {
            removeLive(bucket: bucket, index: index)
        } else if let index = buckets[bucket].cacheIndex(of: id) {
            buckets[bucket].cache.remove(at: index)
        }
    }

    /// Changes our own ID (after BEP 42 told us our external address) and rebuilds the buckets around it, keeping
    /// every known node (live ones first, then cached ones) with its history.
    public mutating func setOwnID(_ id: NodeID, now: Instant) {
        let old = buckets
        ownID = id
        buckets = [RoutingBucket(lastChanged: now)]
        for entry in old.lazy.flatMap(\.live) where entry.node.id != id && admits(entry.node) {
            insert(entry, now: now)
        }
        for entry in old.lazy.flatMap(\.cache) where entry.node.id != id && admits(entry.node) {
            insert(entry, now: now)
        }
    }

    // MARK: Queries

    /// True when `id` is a live node of the table (whatever its state).
    public func contains(_ id: NodeID) -> Bool { buckets[bucketIndex(for: id)].liveIndex(of: id) != nil }

    /// The live node with ID `id`, if any.
    public func node(_ id: NodeID) -> NodeInfo? {
        let bucket = buckets[bucketIndex(for: id)]
        return bucket.liveIndex(of: id).map { bucket.live[$0].node }
    }

    /// The state of live node `id` at `now`; nil when it is not live.
    public func state(of id: NodeID, now: Instant) -> NodeState? {
        let bucket = buckets[bucketIndex(for: id)]
        return bucket.liveIndex(of: id).map { state(of: bucket.live[$0], now: now) }
    }

    /// The number of live nodes, bad ones included.
    public var count: Int { buckets.reduce(0) { $0 + $1.live.count } }

    /// The number of nodes waiting in replacement caches.
    public var cachedCount: Int { buckets.reduce(0) { $0 + $1.cache.count } }

    /// The number of buckets (1 to 160).
    public var bucketCount: Int { buckets.count }

    /// Every live node, farthest bucket first.
    public var nodes: [NodeInfo] {
        var out: [NodeInfo] = []
        out.reserveCapacity(count)
        for bucket in buckets { out.append(contentsOf: bucket.live.lazy.map(\.node)) }
        return out
    }

    /// The live nodes of bucket `index` (0 = farthest from our ID).
    public func nodes(inBucket index: Int) -> [NodeInfo] { buckets[index].live.map(\.node) }

    /// The index of the bucket whose range holds `id`.
    public func bucketIndex(for id: NodeID) -> Int { min(ownID.sharedPrefixLength(with: id), buckets.count - 1) }

    // MARK: Internals

    func isBad(_ entry: RoutingEntry) -> Bool { Int(entry.failures) >= configuration.badAfterFailures }

    func state(of entry: RoutingEntry, now: Instant) -> NodeState {
        if isBad(entry) { return .bad }
        if entry.failures > 0 || now.seconds(since: entry.lastActive) >= configuration.questionableAfter {
            return .questionable
        }
        return .good
    }

    /// Places an answered node: free slot, else split the bucket holding our ID, else replace a bad node, else cache.
    @discardableResult
    mutating func insert(_ entry: RoutingEntry, now: Instant) -> Insertion {
        while true {
            let bucket = bucketIndex(for: entry.node.id)
            if buckets[bucket].live.count < configuration.bucketSize {
                if buckets[bucket].live.isEmpty { buckets[bucket].live.reserveCapacity(configuration.bucketSize) }
                buckets[bucket].live.append(entry)
                buckets[bucket].lastChanged = now
                return .added
            }
            if bucket == buckets.count - 1, buckets.count < Self.maximumBucketCount {
                split(now: now)
                continue
            }
            if let bad = worstBadIndex(in: bucket) {
                buckets[bucket].live[bad] = entry
                buckets[bucket].lastChanged = now
                return .added
            }
            return addToCache(entry, bucket: bucket)
        }
    }

    /// The bad live node of `bucket` that failed most, ties broken by the longest silence.
    func worstBadIndex(in bucket: Int) -> Int? {
        var worst: Int?
        for (index, entry) in buckets[bucket].live.enumerated() where isBad(entry) {
            if let current = worst.map({ buckets[bucket].live[$0] }),
                (current.failures, entry.lastActive) >= (entry.failures, current.lastActive)
            {
                continue
            }
            worst = index
        }
        return worst
    }

    mutating func addToCache(_ entry: RoutingEntry, bucket: Int) -> Insertion {
        let limit = configuration.replacementCacheSize
        guard limit > 0 else { return .rejected }
        if buckets[bucket].cache.count >= limit {
            // Keep the most recently heard: a node silent for longest is the least likely to still be there.
            var oldest = 0
            for (index, cached) in buckets[bucket].cache.enumerated()
            where cached.lastActive < buckets[bucket].cache[oldest].lastActive {
                oldest = index
            }
            buckets[bucket].cache.remove(at: oldest)
        }
        buckets[bucket].cache.append(entry)
        return .cached
    }

    /// Splits the last bucket (the one holding our ID) in two and fills both halves from their caches.
    mutating func split(now: Instant) {
        let last = buckets.count - 1
        var far = RoutingBucket(lastChanged: now)
        var near = RoutingBucket(lastChanged: now)
        let old = buckets[last]
        for entry in old.live {
            if ownID.sharedPrefixLength(with: entry.node.id) > last {
                near.live.append(entry)
            } else {
                far.live.append(entry)
            }
        }
        for entry in old.cache {
            if ownID.sharedPrefixLength(with: entry.node.id) > last {
                near.cache.append(entry)
            } else {
                far.cache.append(entry)
            }
        }
        buckets[last] = far
        buckets.append(near)
        for index in [last, last + 1] {
            while buckets[index].live.count < configuration.bucketSize, let best = buckets[index].bestCacheIndex {
                buckets[index].live.append(buckets[index].cache.remove(at: best))
            }
        }
    }

    mutating func removeLive(bucket: Int, index: Int) {
        buckets[bucket].live.remove(at: index)
        if let best = buckets[bucket].bestCacheIndex {
            buckets[bucket].live.append(buckets[bucket].cache.remove(at: best))
        }
    }

    /// Drops entries at exactly `endpoint` under an ID other than `id`: the node there now answers as `id`.
    mutating func removeStaleEntries(at endpoint: Endpoint, keeping id: NodeID) {
        for bucket in buckets.indices {
            if let index = buckets[bucket].live.firstIndex(where: { $0.node.endpoint == endpoint && $0.node.id != id })
            {
                removeLive(bucket: bucket, index: index)
            }
            buckets[bucket].cache.removeAll { $0.node.endpoint == endpoint && $0.node.id != id }
        }
    }

    /// False when `node` would break an IP diversity limit: another entry at its address anywhere in the table, or
    /// `nodesPerSubnetPerBucket` entries of its bucket in its /24. Local addresses are exempt.
    func admits(_ node: NodeInfo) -> Bool {
        guard configuration.ipDiversity, !node.endpoint.isLocal else { return true }
        let address = node.endpoint.address
        let home = bucketIndex(for: node.id)
        var sameSubnet = 0
        // Returns false on a clash of addresses; counts /24 neighbours in the node's own bucket.
        func scan(_ entries: [RoutingEntry], home isHome: Bool) -> Bool {
            for entry in entries where entry.node.id != node.id {
                let other = entry.node.endpoint.address
                if other == address { return false }
                if isHome, other >> 8 == address >> 8 { sameSubnet += 1 }
            }
            return true
        }
        for (index, bucket) in buckets.enumerated() {
            guard scan(bucket.live, home: index == home), scan(bucket.cache, home: index == home) else { return false }
        }
        return sameSubnet < configuration.nodesPerSubnetPerBucket
    }
}
