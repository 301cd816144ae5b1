import ColonyNet

extension RoutingTable {
    /// The questionable live nodes at `now`, least recently heard first: ping them and report the outcome.
    ///
    /// BEP 5 pings questionable nodes oldest first; a node that fails once stays questionable and is listed again,
    /// which gives it the second chance BEP 5 asks for before it turns bad. The table does not remember pings in
    /// flight, so the caller should skip nodes it is already waiting on.
    public func nodesToPing(now: Instant) -> [NodeInfo] {
        var due: [RoutingEntry] = []
        for bucket in buckets {
            for entry in bucket.live where state(of: entry, now: now) == .questionable { due.append(entry) }
        }
        due.sort { $0.lastActive < $1.lastActive }
        return due.map(\.node)
    }

    /// One random ID inside each bucket unchanged for `refreshInterval`, to look up (BEP 5 bucket refresh); those
    /// buckets count as changed at `now`. Targets come from the table's seeded generator.
    public mutating func refreshTargets(now: Instant) -> [NodeID] {
        var generator = random
        defer { random = generator }
        return refreshTargets(now: now, using: &generator)
    }

    /// `refreshTargets(now:)` with targets drawn from `generator`.
    public mutating func refreshTargets(now: Instant, using generator: inout some RandomNumberGenerator) -> [NodeID] {
        var targets: [NodeID] = []
        for index in buckets.indices
        where now.seconds(since: buckets[index].lastChanged) >= configuration.refreshInterval {
            targets.append(randomID(inBucket: index, using: &generator))
            buckets[index].lastChanged = now
        }
        return targets
    }

    /// A uniformly random ID in the range of bucket `index`.
    public func randomID(inBucket index: Int, using generator: inout some RandomNumberGenerator) -> NodeID {
        let last = buckets.count - 1
        let fixed = Swift.min(index, last)
        let mask = NodeID.prefixMask(length: fixed)
        let noise = NodeID.random(using: &generator)
        var id = NodeID(
            high: ownID.high & mask.high | noise.high & ~mask.high,
            middle: ownID.middle & mask.middle | noise.middle & ~mask.middle,
            low: ownID.low & mask.low | noise.low & ~mask.low)
        // Below the last bucket the next bit is the one where the bucket's IDs part from ours.
        if index < last { id = id.setting(bit: index, to: !ownID.bit(index)) }
        return id
    }
}

extension NodeID {
    /// The ID whose first `length` bits are ones and the rest zeros.
    static func prefixMask(length: Int) -> NodeID {
        func ones64(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits)) }
        let lowBits = length - 128
        let low: UInt32 = lowBits <= 0 ? 0 : lowBits >= 32 ? .max : ~(UInt32.max >> UInt32(lowBits))
        return NodeID(high: ones64(length), middle: ones64(length - 64), low: low)
    }
}
