import ColonyCore

extension RoutingTable {
    /// The table for the data directory: `{"id": own ID, "nodes": compact node infos}`, live nodes first, then
    /// cached ones. Node states are not kept: after a restart every node has to answer again before it counts.
    public func encoded() -> BencodeValue {
        var compact: [UInt8] = []
        compact.reserveCapacity((count + cachedCount) * NodeInfo.compactSize)
        for bucket in buckets { for entry in bucket.live { compact += entry.node.compact } }
        for bucket in buckets { for entry in bucket.cache { compact += entry.node.compact } }
        return ["id": .bytes(ownID.bytes), "nodes": .bytes(compact)]
    }

    /// Reads what `encoded()` wrote; nil when the ID is not 20 bytes or the node list is not whole 26-byte records.
    ///
    /// The nodes are candidates, not table entries: ping them and add those that answer.
    public static func decode(_ value: BencodeValue) -> (ownID: NodeID, nodes: [NodeInfo])? {
        guard let idBytes = value["id"]?.bytes, let ownID = NodeID(bytes: idBytes),
            let nodeBytes = value["nodes"]?.bytes, let nodes = NodeInfo.decodeCompactList(nodeBytes)
        else { return nil }
        return (ownID, nodes)
    }
}
