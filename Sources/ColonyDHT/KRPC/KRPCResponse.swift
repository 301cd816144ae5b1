import ColonyCore
import ColonyNet

/// The return values of a KRPC response (`r`): the responder's `id` and whichever of the BEP 5 and BEP 44 fields
/// the method returns. Keys this codec does not know (`nodes6`, libtorrent's `p`, BEP 51's `samples`) are dropped.
public struct KRPCResponse: Hashable, Sendable {
    /// The responder's node ID (`id`).
    public var id: NodeID
    /// Compact IPv4 node infos (`nodes`): find_node, get_peers, get.
    public var nodes: [NodeInfo]?
    /// Compact IPv4 peers (`values`) of a get_peers reply. Entries of any other shape (BEP 32's 18-byte IPv6
    /// peers, non-strings) are skipped on decoding, so this can be empty while the wire list was not.
    public var values: [Endpoint]?
    /// The write token for a later announce_peer or put (`token`).
    public var token: [UInt8]?
    /// The BEP 44 item (`v` inside `r`; not the top-level client version).
    public var value: BencodeValue?
    /// The item's Ed25519 public key (`k`), as sent; the lookup layer checks its length when verifying.
    public var publicKey: [UInt8]?
    /// The item's Ed25519 signature (`sig`), as sent; the lookup layer checks its length when verifying.
    public var signature: [UInt8]?
    /// The item's sequence number (`seq`).
    public var seq: Int64?

    /// A response from `id` with the given fields; ping and announce_peer replies need only `id`.
    public init(
        id: NodeID,
        nodes: [NodeInfo]? = nil,
        values: [Endpoint]? = nil,
        token: [UInt8]? = nil,
        value: BencodeValue? = nil,
        publicKey: [UInt8]? = nil,
        signature: [UInt8]? = nil,
        seq: Int64? = nil
    ) {
        self.id = id
        self.nodes = nodes
        self.values = values
        self.token = token
        self.value = value
        self.publicKey = publicKey
        self.signature = signature
        self.seq = seq
    }
}
