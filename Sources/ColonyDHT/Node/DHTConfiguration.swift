import ColonyNet

/// How a DHT node behaves: Kademlia parameters, timeouts, limits and its place in the network.
public struct DHTConfiguration: Sendable {
    /// Nodes per bucket and the size of a lookup's result set (BEP 5: 8).
    public var k = 8
    /// Nodes in a find_node, get_peers or get reply to another Colony node (other clients get k).
    public var colonyReplyNodes = 16
    /// Requests a lookup keeps in flight (Kademlia's α).
    public var alpha = 3
    /// After this many seconds without an answer a request stops counting against α, so the lookup branches
    /// wider; it can still answer.
    public var shortTimeout = 1.0
    /// After this many seconds without an answer a request has failed.
    public var requestTimeout = 5.0
    /// The most candidates a lookup remembers; the farthest are forgotten first.
    public var lookupCandidates = 100
    /// BEP 43: answer no queries and mark every outgoing query `ro` = 1.
    public var readOnly = false
    /// Mark every outgoing query `ro` = 1 but still answer queries: a node that does not yet know whether
    /// others can reach it serves those that do, without asking to be put in their tables.
    public var marksQueriesReadOnly = false
    /// Verify other nodes' IDs against their addresses (BEP 42); nodes that fail are not routed through.
    public var enforceNodeIDs = true
    /// The routing table's parameters.
    public var routing = RoutingConfiguration()
    /// Storage caps and lifetimes.
    public var storage = StorageLimits()
    /// How often the items and announcements this node made are stored again: half the 30-minute peer
    /// lifetime, so an announcement never lapses while its node lives.
    public var republishInterval = 15 * 60.0
    /// How often the node looks after its table: pings questionable nodes, refreshes stale buckets,
    /// expires storage.
    public var maintenanceInterval = 5.0
    /// First and largest delay between bootstrap attempts while the table is empty.
    public var bootstrapRetry: (first: Double, maximum: Double) = (1, 60)
    /// The top-level `v` of every message: "CO" and a two-byte protocol version (DESIGN.md).
    public var version: [UInt8] = Array("CO".utf8) + [0, 1]

    /// The defaults.
    public init() {}
}

extension DHTConfiguration {
    /// True when `version` marks a Colony node.
    public static func isColony(_ version: [UInt8]?) -> Bool {
        guard let version, version.count >= 2 else { return false }
        return version[0] == UInt8(ascii: "C") && version[1] == UInt8(ascii: "O")
    }
}
