import ColonyCore
import ColonyNet

/// A Kademlia node speaking BitTorrent's Mainline DHT (BEP 5, 42, 43, 44), free of I/O.
///
/// A runtime (real UDP or the simulator) feeds it datagrams and the time and sends what it returns. Operations
/// (lookups, stores, gets, pings) start with a method that returns the first datagrams and finish by calling
/// their completion handler from inside a later `receive` or `tick`. Not thread-safe: the runtime calls it from
/// one thread at a time.
public final class DHTNode: DatagramService {
    /// The configuration it was made with; `setReadOnly` changes its two BEP 43 fields as the node learns
    /// whether others can reach it.
    public internal(set) var configuration: DHTConfiguration
    /// The routing table.
    public internal(set) var table: RoutingTable
    /// Items and peers stored for others.
    public internal(set) var storage: DHTStorage
    /// Counters.
    public internal(set) var statistics = DHTStatistics()
    /// This node's address as other nodes see it, once three of them agree.
    public internal(set) var externalAddress: Endpoint?
    /// Called for joins, bootstrap failures and ID changes.
    public var onEvent: ((DHTEvent) -> Void)?
    /// The address others reach this node at, when the runtime knows it (bound to a specific address, or told):
    /// a node's own announcements are stored here too when it is among the closest to their key.
    public var ownEndpoint: Endpoint?
    /// Called with the nonce and source of each `co_probe` received (a dial-back of a reachability check).
    public var onProbe: (([UInt8], Endpoint) -> Void)?

    var tokens: TokenManager
    var transactions = Transactions()
    var lookups: [Int: LookupTask] = [:]
    var stores: [Int: StoreTask] = [:]
    var pings: [Int: PingTask] = [:]
    var nextOperation = 0
    var published: [NodeID: Publication] = [:]
    var bootstrap = BootstrapState()
    var votes: [Endpoint: Set<UInt32>] = [:]
    var nextMaintenance: Instant
    var verifying: Set<NodeID> = []
    /// Endpoints that just failed to answer, and when: lookups skip them for `failureMemory` seconds rather than
    /// wait on them again when other nodes still list them.
    var recentFailures: [Endpoint: Instant] = [:]
    static let failureMemory = 60.0

    /// This node's ID.
    public var id: NodeID { table.ownID }

    /// A node with `id` (random when nil), starting at `now`.
    public init(id: NodeID? = nil, configuration: DHTConfiguration = .init(), now: Instant) {
        self.configuration = configuration
        var routing = configuration.routing
        routing.bucketSize = configuration.k
        table = RoutingTable(ownID: id ?? .random(), configuration: routing, now: now)
        storage = DHTStorage(limits: configuration.storage)
        tokens = TokenManager(now: now)
        nextMaintenance = now.adding(seconds: configuration.maintenanceInterval)
    }

    // MARK: DatagramService

    public func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        let message: KRPCMessage
        do {
            message = try KRPCMessage.decode(bytes)
        } catch {
            statistics.malformed += 1
            guard error.isQuery, let transactionID = error.transactionID, !configuration.readOnly else { return [] }
            return [errorReply(transactionID, KRPCError(code: KRPCErrorCode.protocolError, message: error.message), to: source)]
        }
        switch message.body {
        case .query(let sender, let query):
            return answer(query, from: NodeInfo(id: sender, endpoint: source), message: message, now: now)
        case .response(let response):
            return handleResponse(response, message: message, from: source, now: now)
        case .error(let error):
            return handleError(error, message: message, from: source, now: now)
        }
    }

    public func tick(now: Instant) -> [Datagram] {
        var out: [Datagram] = []
        let (slow, failed) = transactions.expire(now: now)
        for entry in slow {
            if case .lookup(let operation) = entry.owner, let id = entry.nodeID {
                lookups[operation]?.lookup.slow(id)
                out += pump(operation, now: now)
            }
        }
        for entry in failed {
            statistics.timeouts += 1
            rememberFailure(entry.endpoint, now: now)
            if let id = entry.nodeID { table.failed(id, now: now) }
            out += settle(entry, outcome: .timedOut, now: now)
        }
        if now >= nextMaintenance {
            nextMaintenance = now.adding(seconds: configuration.maintenanceInterval)
            out += maintain(now: now)
        }
        return out
    }

    public var nextDeadline: Instant? {
        guard let pending = transactions.nextDeadline else { return nextMaintenance }
        return min(pending, nextMaintenance)
    }

    // MARK: Sending

    func sendQuery(_ query: KRPCQuery, to endpoint: Endpoint, nodeID: NodeID?, owner: Transactions.Owner, now: Instant)
        -> Datagram?
    {
        guard
            let transactionID = transactions.open(
                to: endpoint, nodeID: nodeID, owner: owner, now: now, shortTimeout: configuration.shortTimeout,
                timeout: configuration.requestTimeout)
        else { return nil }
        statistics.queriesSent += 1
        let message = KRPCMessage(
            transactionID: transactionID, body: .query(senderID: id, query), version: configuration.version,
            readOnly: configuration.readOnly || configuration.marksQueriesReadOnly, requester: nil)
        return Datagram(message.encoded(), to: endpoint)
    }

    /// Changes the node's place in the network: `readOnly` answers nothing and marks queries `ro` (BEP 43, a
    /// node others cannot reach); `marksQueries` alone marks them but still answers (one not yet known).
    public func setReadOnly(_ readOnly: Bool, marksQueries: Bool) {
        configuration.readOnly = readOnly
        configuration.marksQueriesReadOnly = marksQueries
    }

    func reply(_ transactionID: [UInt8], _ response: KRPCResponse, to endpoint: Endpoint) -> Datagram {
        let message = KRPCMessage(
            transactionID: transactionID, body: .response(response), version: configuration.version, readOnly: false,
            requester: endpoint)
        return Datagram(message.encoded(), to: endpoint)
    }

    func errorReply(_ transactionID: [UInt8], _ error: KRPCError, to endpoint: Endpoint) -> Datagram {
        statistics.errorsSent[error.code, default: 0] += 1
        let message = KRPCMessage(
            transactionID: transactionID, body: .error(error), version: configuration.version, readOnly: false,
            requester: endpoint)
        return Datagram(message.encoded(), to: endpoint)
    }

    // MARK: Answers

    /// The outcome of a transaction, handed to whoever opened it.
    enum Outcome {
        case response(KRPCResponse, NodeInfo, isColony: Bool)
        case error(KRPCError)
        case timedOut
    }

    private func handleResponse(_ response: KRPCResponse, message: KRPCMessage, from source: Endpoint, now: Instant)
        -> [Datagram]
    {
        guard let entry = transactions.close(message.transactionID, from: source) else {
            statistics.unmatched += 1
            return []
        }
        statistics.responsesReceived += 1
        let node = NodeInfo(id: response.id, endpoint: source)
        var response = response
        if isAcceptable(node) {
            table.heard(from: node, .response, now: now)
        } else {
            // BEP 42: a node whose ID does not match its address gets no say in where items are stored.
            statistics.invalidNodeIDs += 1
            response.token = nil
        }
        let voted = message.requester.map { vote($0, from: source, now: now) } != nil
        if let expected = entry.nodeID, expected != response.id { table.remove(expected) }
        var out = settle(entry, outcome: .response(response, node, isColony: DHTConfiguration.isColony(message.version)), now: now)
        if voted, let event = votedAddressChange(now: now) { out += event }
        return out
    }

    private func handleError(_ error: KRPCError, message: KRPCMessage, from source: Endpoint, now: Instant) -> [Datagram] {
        guard let entry = transactions.close(message.transactionID, from: source) else {
            statistics.unmatched += 1
            return []
        }
        statistics.errorsReceived += 1
        return settle(entry, outcome: .error(error), now: now)
    }

    /// True when `node` may enter the routing table and lookups: its ID matches its address (BEP 42), or its
    /// address is local, or enforcement is off.
    func isAcceptable(_ node: NodeInfo) -> Bool {
        guard configuration.enforceNodeIDs, !node.endpoint.isLocal else { return true }
        return BEP42.isValid(node.id, for: node.endpoint.address)
    }

    func rememberFailure(_ endpoint: Endpoint, now: Instant) {
        if recentFailures.count >= 1_024 {
            recentFailures = recentFailures.filter { now.seconds(since: $0.value) < Self.failureMemory }
            if recentFailures.count >= 1_024 { recentFailures.removeAll() }
        }
        recentFailures[endpoint] = now
    }

    /// True when `endpoint` failed to answer within the last `failureMemory` seconds.
    func failedRecently(_ endpoint: Endpoint, now: Instant) -> Bool {
        guard let when = recentFailures[endpoint] else { return false }
        return now.seconds(since: when) < Self.failureMemory
    }

    // MARK: External address (BEP 42)

    private func vote(_ address: Endpoint, from voter: Endpoint, now: Instant) {
        if votes.count >= 32 && votes[address] == nil { votes.removeAll() }
        // Three voters decide; past `maxVoters` more add nothing but memory (every node that ever answered us).
        guard votes[address]?.count ?? 0 < Self.maxVoters else { return }
        votes[address, default: []].insert(voter.address)
    }

    /// The most voters remembered per proposed external address.
    static let maxVoters = 256

    private func votedAddressChange(now: Instant) -> [Datagram]? {
        guard let (address, voters) = votes.max(by: { $0.value.count < $1.value.count }), voters.count >= 3,
            address.address != externalAddress?.address
        else { return nil }
        externalAddress = address
        onEvent?(.externalAddress(address))
        guard configuration.enforceNodeIDs, !address.isLocal, !BEP42.isValid(id, for: address.address) else {
            return nil
        }
        var generator = SystemRandomNumberGenerator()
        let newID = BEP42.nodeID(for: address.address, using: &generator)
        table.setOwnID(newID, now: now)
        onEvent?(.idChanged(newID))
        // Tell the new neighbourhood: a lookup of the own ID fills the buckets around it.
        return startLookup(id: newID, kind: .findNode, continuation: .refresh, now: now)
    }
}
