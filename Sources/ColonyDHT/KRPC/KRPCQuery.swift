/// A KRPC query's method and its arguments, apart from the sender's `id` (BEP 5, BEP 44).
public enum KRPCQuery: Hashable, Sendable {
    /// `ping`: are you there?
    case ping
    /// `find_node`: the closest nodes to `target`.
    case findNode(target: NodeID)
    /// `get_peers`: peers for `infoHash`, or the closest nodes, plus a token.
    case getPeers(infoHash: NodeID)
    /// `announce_peer`: store the sender as a peer for `infoHash` at `port`, or at its UDP source port when
    /// `impliedPort` is set; `token` comes from the sender's earlier `get_peers`.
    case announcePeer(infoHash: NodeID, port: UInt16, impliedPort: Bool, token: [UInt8])
    /// `get` (BEP 44): the item stored under `target`; with `seq`, only a mutable item newer than `seq`.
    case get(target: NodeID, seq: Int64?)
    /// `put` (BEP 44): store an item.
    case put(PutArguments)
    /// `co_probe` (Colony): a dial-back probe carrying the nonce of a reachability check. It is sent from a
    /// socket the probed node never contacted, and nobody answers it: receiving it is the proof.
    case probe(nonce: [UInt8])
    /// Any other method; a node answers it with error 204. Its arguments other than `id` are not kept.
    case unknown(method: String)

    /// The method name on the wire: "ping", "find_node", "get_peers", "announce_peer", "get", "put", or the
    /// unknown one.
    public var method: String {
        switch self {
        case .ping: return KRPCMethod.ping
        case .findNode: return KRPCMethod.findNode
        case .getPeers: return KRPCMethod.getPeers
        case .announcePeer: return KRPCMethod.announcePeer
        case .get: return KRPCMethod.get
        case .put: return KRPCMethod.put
        case .probe: return KRPCMethod.probe
        case .unknown(let method): return method
        }
    }
}

/// The method names Colony's codec knows, as they appear in `q`.
public enum KRPCMethod {
    /// BEP 5 ping.
    public static let ping = "ping"
    /// BEP 5 find_node.
    public static let findNode = "find_node"
    /// BEP 5 get_peers.
    public static let getPeers = "get_peers"
    /// BEP 5 announce_peer.
    public static let announcePeer = "announce_peer"
    /// BEP 44 get.
    public static let get = "get"
    /// BEP 44 put.
    public static let put = "put"
    /// Colony's dial-back probe.
    public static let probe = "co_probe"
}
