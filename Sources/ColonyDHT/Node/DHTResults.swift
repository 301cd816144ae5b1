import ColonyNet

/// What an iterative lookup found.
public struct LookupResult: Sendable {
    /// The ID looked up.
    public var target: NodeID
    /// The k closest nodes that answered, nearest first.
    public var closest: [NodeInfo]
    /// Which of `closest` are Colony nodes (their messages carry `v` = "CO…").
    public var colonyNodes: Set<NodeID>
    /// The deepest round of requests that produced an answer.
    public var rounds: Int
    /// Queries sent.
    public var messages: Int
    /// Peers found (get_peers).
    public var peers: [Endpoint]
    /// Seconds from start to finish.
    public var seconds: Double
}

/// The outcome of a store (announce_peer or BEP 44 put) on the closest nodes.
public struct StoreResult: Sendable {
    /// The info-hash or item target.
    public var target: NodeID
    /// Nodes that confirmed the store.
    public var stored: Int
    /// Nodes asked to store (the closest that answered the lookup with a token).
    public var attempted: Int
    /// Errors the nodes answered with.
    public var errors: [KRPCError]
    /// The lookup before the store.
    public var lookup: LookupResult
}

/// The outcome of a BEP 44 get.
public struct GetResult: Sendable {
    /// The lookup.
    public var lookup: LookupResult
    /// The immutable item, verified against the target.
    public var immutable: ImmutableItem?
    /// The mutable item with the highest `seq` seen, its signature verified.
    public var mutable: MutableItem?
    /// Answers whose item failed verification.
    public var badItems: Int
}

/// The outcome of a ping.
public enum PingResult: Sendable {
    /// The node answered with its ID and client version, after `seconds`.
    case answered(id: NodeID, version: [UInt8]?, seconds: Double)
    /// The node answered with a KRPC error.
    case error(KRPCError)
    /// No answer before the timeout.
    case timedOut
}

/// Things a node reports as they happen, for logs.
public enum DHTEvent: Sendable {
    /// The bootstrap reached the network; the table holds `tableSize` nodes.
    case joined(tableSize: Int)
    /// No bootstrap node answered; the node tries again after `retryIn` seconds.
    case bootstrapFailed(attempt: Int, tried: [Endpoint], retryIn: Double)
    /// Nodes agree on this node's external address.
    case externalAddress(Endpoint)
    /// The node took a new ID (BEP 42, from its external address).
    case idChanged(NodeID)
}

/// Counters of what a node has seen and done.
public struct DHTStatistics: Sendable {
    /// Queries received, by method.
    public var queriesReceived: [String: Int] = [:]
    /// Responses matched to an open transaction.
    public var responsesReceived = 0
    /// Errors received.
    public var errorsReceived = 0
    /// Datagrams that were not valid KRPC.
    public var malformed = 0
    /// Responses that matched no open transaction (late, forged or misdirected).
    public var unmatched = 0
    /// Errors sent, by code.
    public var errorsSent: [Int: Int] = [:]
    /// Queries sent.
    public var queriesSent = 0
    /// Queries that timed out.
    public var timeouts = 0
    /// Nodes whose ID did not match their address (BEP 42), kept out of the table.
    public var invalidNodeIDs = 0
    /// announce_peer queries with a valid token that storage refused, by `AnnounceRefusal.reason` (a fixed set of
    /// keys); each was answered with error 202.
    public var announcesRefused: [String: Int] = [:]
}
