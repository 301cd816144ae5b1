import ColonyCore
import ColonyNet

/// One KRPC datagram (BEP 5): a query, a response or an error, with its transaction ID and the optional top-level
/// keys of BEP 5 (`v`), BEP 42 (`ip`) and BEP 43 (`ro`).
public struct KRPCMessage: Hashable, Sendable {
    /// What the message carries, decided by its `y` key.
    public enum Body: Hashable, Sendable {
        /// `"y": "q"`: a query from the node `senderID` (`a.id`).
        case query(senderID: NodeID, KRPCQuery)
        /// `"y": "r"`: a response.
        case response(KRPCResponse)
        /// `"y": "e"`: an error.
        case error(KRPCError)
    }

    /// The querier's transaction ID (`t`), echoed verbatim in the reply; 1…16 bytes.
    public var transactionID: [UInt8]
    /// The query, response or error.
    public var body: Body
    /// The sender's client version (top-level `v`): two letters and two version bytes, "CO" for Colony, "LT" for
    /// libtorrent. Not BEP 44's `v`, which lives inside `a` or `r`.
    public var version: [UInt8]?
    /// The sender is read-only (top-level `ro` = 1, BEP 43): answer it, but keep it out of the routing table.
    /// BEP 43 defines it on queries; it is decoded and encoded wherever it appears so that decoding is faithful.
    public var readOnly: Bool
    /// The requester's address as the responder saw it (top-level `ip`, BEP 42), in replies. An 18-byte IPv6 form
    /// is ignored on decoding.
    public var requester: Endpoint?

    /// The longest transaction ID accepted; libtorrent sends 2 bytes, other clients up to 4, so 16 is generous and
    /// still keeps a hostile peer from making us echo a large string.
    public static let maxTransactionIDLength = 16
    /// The longest method name accepted; the longest in use (BEP 51's `sample_infohashes`) has 17 bytes.
    public static let maxMethodLength = 64

    /// A message with the given parts.
    public init(
        transactionID: [UInt8],
        body: Body,
        version: [UInt8]? = nil,
        readOnly: Bool = false,
        requester: Endpoint? = nil
    ) {
        self.transactionID = transactionID
        self.body = body
        self.version = version
        self.readOnly = readOnly
        self.requester = requester
    }

    /// A query `query` from `sender`.
    public static func query(
        _ query: KRPCQuery,
        from sender: NodeID,
        transactionID: [UInt8],
        version: [UInt8]? = nil,
        readOnly: Bool = false
    ) -> KRPCMessage {
        KRPCMessage(
            transactionID: transactionID,
            body: .query(senderID: sender, query),
            version: version,
            readOnly: readOnly
        )
    }

    /// True for a query.
    public var isQuery: Bool {
        if case .query = body { return true }
        return false
    }
}
