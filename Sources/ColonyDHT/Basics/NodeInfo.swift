import ColonyNet

/// A node as the wire names it: its ID and where it listens. BEP 5's compact node info is 26 bytes.
public struct NodeInfo: Hashable, Sendable, CustomStringConvertible {
    /// The node's ID.
    public var id: NodeID
    /// Its UDP endpoint.
    public var endpoint: Endpoint

    /// A node with `id` at `endpoint`.
    public init(id: NodeID, endpoint: Endpoint) {
        self.id = id
        self.endpoint = endpoint
    }

    /// The size of one compact node info.
    public static let compactSize = 26

    /// ID then compact endpoint.
    public var compact: [UInt8] { id.bytes + endpoint.compact }

    public var description: String { "\(id.hex.prefix(8))…@\(endpoint)" }

    /// Splits a concatenation of compact node infos; nil when its length is not a multiple of 26.
    public static func decodeCompactList(_ bytes: [UInt8]) -> [NodeInfo]? {
        guard bytes.count % compactSize == 0 else { return nil }
        var nodes: [NodeInfo] = []
        nodes.reserveCapacity(bytes.count / compactSize)
        var start = 0
        while start < bytes.count {
            let id = NodeID(bytes: bytes[start..<start + 20])!
            let endpoint = Endpoint(compact: bytes[start + 20..<start + 26])!
            nodes.append(NodeInfo(id: id, endpoint: endpoint))
            start += compactSize
        }
        return nodes
    }

    /// Concatenates compact node infos.
    public static func encodeCompactList(_ nodes: [NodeInfo]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(nodes.count * compactSize)
        for node in nodes { out += node.compact }
        return out
    }
}
