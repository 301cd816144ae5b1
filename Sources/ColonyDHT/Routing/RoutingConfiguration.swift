/// The limits and timers of a `RoutingTable`.
public struct RoutingConfiguration: Sendable, Hashable {
    /// Live nodes per bucket: BEP 5's K.
    public var bucketSize = 8
    /// Answered nodes kept per bucket in reserve, to take the place of live nodes that go bad.
    public var replacementCacheSize = 8
    /// Whether to limit nodes per address range, so one owner of a subnet cannot fill the table.
    ///
    /// When on, a non-local node is refused if an entry anywhere in the table (live or reserve) has its address,
    /// whatever the port, or if an entry of its own bucket is in its /24 (`nodesPerSubnetPerBucket`). Local addresses
    /// (`Endpoint.isLocal`) are never limited. These are libtorrent's `dht_restrict_routing_ips` rules. Turn it off
    /// in simulations that place many nodes in one /24.
    public var ipDiversity = true
    /// With `ipDiversity`, how many entries of one bucket may share a /24.
    public var nodesPerSubnetPerBucket = 1
    /// Seconds of silence after which a good node becomes questionable (BEP 5: 15 minutes).
    public var questionableAfter: Double = 15 * 60
    /// Consecutive unanswered queries after which a node is bad.
    ///
    /// BEP 5 calls a node bad once it fails several queries in a row, and asks that a node failing a ping be tried
    /// once more before it is replaced: so the second consecutive failure makes it bad. One failure only makes it
    /// questionable (it shows up in `nodesToPing`).
    public var badAfterFailures = 2
    /// Seconds a bucket may go unchanged before it is refreshed with a lookup (BEP 5: 15 minutes).
    public var refreshInterval: Double = 15 * 60

    /// The defaults above.
    public init() {}

    /// A problem with one field of a `RoutingConfiguration`.
    public struct Invalid: Error, CustomStringConvertible, Sendable {
        /// The offending field.
        public var field: String
        /// What was wrong with it and what is expected.
        public var message: String
        public var description: String { "RoutingConfiguration.\(field): \(message)" }
    }

    /// Throws `Invalid` naming the first field outside its useful range.
    public func validate() throws {
        if !(1...255).contains(bucketSize) {
            throw Invalid(field: "bucketSize", message: "is \(bucketSize); use 1...255 (BEP 5 uses 8)")
        }
        if !(0...255).contains(replacementCacheSize) {
            throw Invalid(field: "replacementCacheSize", message: "is \(replacementCacheSize); use 0...255")
        }
        if nodesPerSubnetPerBucket < 1 {
            throw Invalid(field: "nodesPerSubnetPerBucket", message: "is \(nodesPerSubnetPerBucket); use 1 or more")
        }
        if !(questionableAfter > 0) {
            throw Invalid(
                field: "questionableAfter", message: "is \(questionableAfter); use a positive number of seconds")
        }
        if !(1...255).contains(badAfterFailures) {
            throw Invalid(field: "badAfterFailures", message: "is \(badAfterFailures); use 1...255 (BEP 5 suggests 2)")
        }
        if !(refreshInterval > 0) {
            throw Invalid(field: "refreshInterval", message: "is \(refreshInterval); use a positive number of seconds")
        }
    }
}
