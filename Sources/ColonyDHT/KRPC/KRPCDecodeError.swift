import ColonyNet

/// Why a datagram is not a valid KRPC message, with what the node needs to answer it.
///
/// BEP 5 answers a malformed query with error 203 echoing its `t`; responses and errors that fail to decode, and
/// inputs that never got as far as a transaction ID, are dropped without a reply.
public struct KRPCDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The message's `t`, when the input got far enough to have a valid one (a 1…16-byte string).
    public var transactionID: [UInt8]?
    /// What was wrong, naming the key and what KRPC expects there.
    public var message: String
    /// True when the input declared itself a query (`"y": "q"`): only those get a 203 reply.
    public var isQuery: Bool

    /// A decode failure with `message`, for a message with `transactionID` (if known) that is or is not a query.
    public init(transactionID: [UInt8]?, message: String, isQuery: Bool) {
        self.transactionID = transactionID
        self.message = message
        self.isQuery = isQuery
    }

    /// "KRPC: …", for logs.
    public var description: String { "KRPC: \(message)" }

    /// The 203 error message to send back, or nil when no reply is due (not a query, or no usable `t`).
    public func reply(version: [UInt8]? = nil, requester: Endpoint? = nil) -> KRPCMessage? {
        guard isQuery, let transactionID else { return nil }
        return KRPCMessage(
            transactionID: transactionID,
            body: .error(.protocolError(message)),
            version: version,
            requester: requester
        )
    }
}
