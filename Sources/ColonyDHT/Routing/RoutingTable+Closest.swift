extension RoutingTable {
    /// Up to `count` live nodes closest to `target` by XOR distance, closest first; bad nodes are left out.
    ///
    /// Every bucket covers one contiguous run of distances from `target`, and those runs do not overlap: with
    /// `d = ownID XOR target`, bucket `i` (below the last) holds exactly the nodes whose distance agrees with `d` on
    /// bits `0..<i` and differs at bit `i`. So the buckets are visited in distance order (those with bit `i` of `d`
    /// set, lowest index first; then the last bucket; then the others, highest index first), each bucket's few nodes
    /// are sorted on their own, and the walk stops once `count` nodes are in hand. Cost: O(buckets + count · k),
    /// one allocation (the result, reserved up front).
    public func closest(to target: NodeID, count: Int) -> [NodeInfo] {
        guard count > 0 else { return [] }
        var result: [NodeInfo] = []
        result.reserveCapacity(Swift.min(count, buckets.count * configuration.bucketSize))
        let d = ownID.distance(to: target)
        let last = buckets.count - 1
        for index in 0..<last where d.bit(index) && result.count < count {
            append(bucket: index, sortedBy: target, to: &result)
        }
        if result.count < count { append(bucket: last, sortedBy: target, to: &result) }
        for index in stride(from: last - 1, through: 0, by: -1) where !d.bit(index) && result.count < count {
            append(bucket: index, sortedBy: target, to: &result)
        }
        // Cut in place: `Array(prefix(_:))` would allocate a second array.
        if result.count > count { result.removeLast(result.count - count) }
        return result
    }

    /// Appends the non-bad live nodes of `bucket`, sorted by distance to `target`, by insertion into the tail.
    private func append(bucket: Int, sortedBy target: NodeID, to result: inout [NodeInfo]) {
        let start = result.count
        for entry in buckets[bucket].live where !isBad(entry) {
            let distance = entry.node.id.distance(to: target)
            var position = result.count
            result.append(entry.node)
            while position > start, result[position - 1].id.distance(to: target) > distance {
                result[position] = result[position - 1]
                position -= 1
            }
            result[position] = entry.node
        }
    }
}
