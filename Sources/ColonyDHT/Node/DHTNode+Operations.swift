import ColonyCore
import ColonyNet

/// What happens when a lookup finishes.
enum LookupContinuation {
    case findNode((LookupResult) -> Void)
    case getPeers((LookupResult) -> Void)
    case get((GetResult) -> Void)
    case announce(port: UInt16?, (StoreResult) -> Void)
    case putImmutable(ImmutableItem, (StoreResult) -> Void)
    case putMutable(MutableItem, (StoreResult) -> Void)
    case refresh
    case join
}

struct LookupTask {
    var lookup: Lookup
    var continuation: LookupContinuation
    var started: Instant
}

struct StoreTask {
    var result: StoreResult
    var waiting: Int
    var completion: (StoreResult) -> Void
}

struct PingTask {
    var started: Instant
    var completion: (PingResult) -> Void
}

/// Something this node stored in the DHT and keeps alive by storing it again.
enum Publication {
    case announce(infoHash: NodeID, port: UInt16?, next: Instant)
    case immutable(ImmutableItem, next: Instant)
    case mutable(MutableItem, next: Instant)

    var next: Instant {
        switch self {
        case .announce(_, _, let next), .immutable(_, let next), .mutable(_, let next): next
        }
    }
}

struct BootstrapState {
    var endpoints: [Endpoint] = []
    var attempt = 0
    var waiting = 0
    var answered = false
    var joined = false
    var nextAttempt: Instant?
    /// Waiting for the join to finish.
    var observers: [(Int) -> Void] = []
}

extension DHTNode {
    // MARK: Public operations

    /// Looks up the k nodes closest to `target`.
    public func findNode(_ target: NodeID, now: Instant, completion: @escaping (LookupResult) -> Void) -> [Datagram] {
        startLookup(id: target, kind: .findNode, continuation: .findNode(completion), now: now)
    }

    /// Looks up peers announced under `infoHash` (get_peers).
    public func getPeers(_ infoHash: NodeID, now: Instant, completion: @escaping (LookupResult) -> Void) -> [Datagram] {
        startLookup(id: infoHash, kind: .getPeers, continuation: .getPeers(completion), now: now)
    }

    /// Announces this node as a peer for `infoHash` on the closest nodes (announce_peer); `port` nil means the
    /// source port of the datagram (implied_port). Kept alive by republishing.
    public func announce(
        _ infoHash: NodeID, port: UInt16?, now: Instant, completion: @escaping (StoreResult) -> Void = { _ in }
    ) -> [Datagram] {
        published[infoHash] = .announce(
            infoHash: infoHash, port: port, next: now.adding(seconds: configuration.republishInterval))
        return startLookup(id: infoHash, kind: .getPeers, continuation: .announce(port: port, completion), now: now)
    }

    /// Stores an immutable item (BEP 44) on the closest nodes and keeps it alive.
    public func put(_ item: ImmutableItem, now: Instant, completion: @escaping (StoreResult) -> Void) -> [Datagram] {
        published[item.target] = .immutable(item, next: now.adding(seconds: configuration.republishInterval))
        return startLookup(id: item.target, kind: .getImmutable, continuation: .putImmutable(item, completion), now: now)
    }

    /// Stores a signed mutable item (BEP 44) on the closest nodes and keeps it alive.
    public func put(_ item: MutableItem, now: Instant, completion: @escaping (StoreResult) -> Void) -> [Datagram] {
        published[item.target] = .mutable(item, next: now.adding(seconds: configuration.republishInterval))
        return startLookup(
            id: item.target, kind: .getMutable(publicKey: item.publicKey, salt: item.salt),
            continuation: .putMutable(item, completion), now: now)
    }

    /// Gets an immutable item by its target.
    public func getImmutable(_ target: NodeID, now: Instant, completion: @escaping (GetResult) -> Void) -> [Datagram] {
        startLookup(id: target, kind: .getImmutable, continuation: .get(completion), now: now)
    }

    /// Gets the newest mutable item under a public key and salt.
    public func getMutable(
        publicKey: [UInt8], salt: [UInt8], now: Instant, completion: @escaping (GetResult) -> Void
    ) -> [Datagram] {
        let target = MutableItem.target(publicKey: publicKey, salt: salt)
        return startLookup(
            id: target, kind: .getMutable(publicKey: publicKey, salt: salt), continuation: .get(completion), now: now)
    }

    /// Pings an endpoint.
    public func ping(_ endpoint: Endpoint, now: Instant, completion: @escaping (PingResult) -> Void) -> [Datagram] {
        let operation = nextOperationID()
        guard let datagram = sendQuery(.ping, to: endpoint, nodeID: nil, owner: .ping(operation), now: now) else {
            completion(.timedOut)
            return []
        }
        pings[operation] = PingTask(started: now, completion: completion)
        return [datagram]
    }

    /// Joins the network through `endpoints`: asks each for the nodes near this node's ID, then looks itself up.
    /// While the table stays empty it tries again with growing delays and reports each failure.
    /// `whenJoined` is called with the table's size once the self-lookup finishes (after any retries).
    public func bootstrap(
        from endpoints: [Endpoint], now: Instant, whenJoined: ((Int) -> Void)? = nil
    ) -> [Datagram] {
        if let whenJoined { bootstrap.observers.append(whenJoined) }
        bootstrap.endpoints = Array(Set(endpoints)).sorted()
        bootstrap.attempt = 0
        bootstrap.joined = false
        return attemptBootstrap(now: now)
    }

    /// True once a bootstrap reached at least one node and the self-lookup finished.
    public var hasJoined: Bool { bootstrap.joined }



    /// Lookups, stores and pings in progress.
    public var operationsInProgress: Int { lookups.count + stores.count + pings.count }

    /// Forgets an item or announcement so it is no longer republished.
    public func unpublish(_ target: NodeID) { published[target] = nil }

    // MARK: Internals

    func nextOperationID() -> Int {
        nextOperation += 1
        return nextOperation
    }

    func startLookup(id target: NodeID, kind: Lookup.Kind, continuation: LookupContinuation, now: Instant) -> [Datagram] {
        let operation = nextOperationID()
        let seeds = table.closest(to: target, count: configuration.k * 2).filter { !failedRecently($0.endpoint, now: now) }
        var lookup = Lookup(
            target: target, kind: kind, k: configuration.k, alpha: configuration.alpha,
            maxCandidates: configuration.lookupCandidates, seeds: seeds, ownID: id)
        // A get can stop at the first verified immutable value; a put must reach the k closest.
        if case .get = continuation, case .getImmutable = kind { lookup.stopsAtFirstItem = true }
        lookups[operation] = LookupTask(lookup: lookup, continuation: continuation, started: now)
        return pump(operation, now: now)
    }

    /// Sends the lookup's next queries, or finishes it.
    func pump(_ operation: Int, now: Instant) -> [Datagram] {
        guard var task = lookups[operation] else { return [] }
        var out: [Datagram] = []
        let query = task.lookup.query
        for node in task.lookup.nextQueries() {
            if let datagram = sendQuery(query, to: node.endpoint, nodeID: node.id, owner: .lookup(operation), now: now) {
                out.append(datagram)
            } else {
                task.lookup.failed(node.id)
            }
        }
        lookups[operation] = task
        if task.lookup.isFinished { out += finish(operation, now: now) }
        return out
    }

    private func finish(_ operation: Int, now: Instant) -> [Datagram] {
        guard let task = lookups.removeValue(forKey: operation) else { return [] }
        let lookup = task.lookup
        let closest = lookup.closest
        let result = LookupResult(
            target: lookup.target, closest: closest.map(\.node),
            colonyNodes: Set(closest.filter(\.isColony).map(\.node.id)), rounds: lookup.rounds,
            messages: lookup.messages, peers: Array(lookup.peers).sorted(), seconds: now.seconds(since: task.started))
        switch task.continuation {
        case .findNode(let completion), .getPeers(let completion):
            completion(result)
        case .get(let completion):
            completion(
                GetResult(lookup: result, immutable: lookup.immutableItem, mutable: lookup.mutableItem,
                    badItems: lookup.badItems))
        case .refresh:
            break
        case .join:
            bootstrap.joined = true
            onEvent?(.joined(tableSize: table.count))
            let observers = bootstrap.observers
            bootstrap.observers = []
            for observer in observers { observer(table.count) }
            // The self-lookup fills the buckets near this node's ID; one lookup into each farther bucket fills
            // the rest now rather than at the first refresh, 15 minutes on.
            var generator = SystemRandomNumberGenerator()
            var out: [Datagram] = []
            for bucket in 0..<max(table.bucketCount - 1, 0) {
                let target = table.randomID(inBucket: bucket, using: &generator)
                out += startLookup(id: target, kind: .findNode, continuation: .refresh, now: now)
            }
            return out
        case .announce(let port, let completion):
            // Among the k closest to the key itself (or the network is smaller than k), a serving node keeps its
            // own announcement too: with no other node to store it on (peers behind NATs are read-only and in no
            // table), it would be nowhere.
            if !configuration.readOnly, let own = ownEndpoint,
                closest.count < configuration.k || closest.contains(where: { lookup.target.distance(to: id) < lookup.target.distance(to: $0.node.id) })
            {
                _ = storage.tryAnnounce(peer: Endpoint(address: own.address, port: port ?? own.port), infoHash: lookup.target, now: now)
            }
            let query = { (token: [UInt8]) in
                KRPCQuery.announcePeer(infoHash: lookup.target, port: port ?? 0, impliedPort: port == nil, token: token)
            }
            return startStore(closest, query: query, result: result, now: now, completion: completion)
        case .putImmutable(let item, let completion):
            let query = { (token: [UInt8]) in
                KRPCQuery.put(PutArguments(token: token, value: item.value))
            }
            return startStore(closest, query: query, result: result, now: now, completion: completion)
        case .putMutable(let item, let completion):
            let query = { (token: [UInt8]) in
                var arguments = PutArguments(token: token, value: item.value)
                arguments.publicKey = item.publicKey
                arguments.signature = item.signature
                arguments.seq = item.seq
                arguments.salt = item.salt.isEmpty ? nil : item.salt
                return KRPCQuery.put(arguments)
            }
            return startStore(closest, query: query, result: result, now: now, completion: completion)
        }
        return []
    }

    private func startStore(
        _ nodes: [Lookup.Candidate], query: ([UInt8]) -> KRPCQuery, result: LookupResult, now: Instant,
        completion: @escaping (StoreResult) -> Void
    ) -> [Datagram] {
        let operation = nextOperationID()
        var out: [Datagram] = []
        for candidate in nodes {
            guard let token = candidate.token else { continue }
            let node = candidate.node
            if let datagram = sendQuery(query(token), to: node.endpoint, nodeID: node.id, owner: .store(operation), now: now) {
                out.append(datagram)
            }
        }
        let storeResult = StoreResult(target: result.target, stored: 0, attempted: out.count, errors: [], lookup: result)
        if out.isEmpty {
            completion(storeResult)
        } else {
            stores[operation] = StoreTask(result: storeResult, waiting: out.count, completion: completion)
        }
        return out
    }

    /// Hands a transaction's outcome to its owner.
    func settle(_ entry: Transactions.Pending, outcome: Outcome, now: Instant) -> [Datagram] {
        switch entry.owner {
        case .lookup(let operation):
            guard lookups[operation] != nil else { return [] }
            switch outcome {
            case .response(let response, let node, let isColony):
                if let expected = entry.nodeID, expected == node.id, isAcceptable(node) {
                    let filtered = response.nodes?.filter { isAcceptable($0) && !failedRecently($0.endpoint, now: now) }
                    var response = response
                    response.nodes = filtered
                    lookups[operation]!.lookup.responded(node.id, response: response, isColony: isColony)
                } else if let expected = entry.nodeID {
                    lookups[operation]!.lookup.failed(expected)
                }
            case .error, .timedOut:
                if let expected = entry.nodeID { lookups[operation]!.lookup.failed(expected) }
            }
            return pump(operation, now: now)
        case .store(let operation):
            guard var task = stores[operation] else { return [] }
            switch outcome {
            case .response: task.result.stored += 1
            case .error(let error): task.result.errors.append(error)
            case .timedOut: break
            }
            task.waiting -= 1
            if task.waiting == 0 {
                stores[operation] = nil
                task.completion(task.result)
            } else {
                stores[operation] = task
            }
            return []
        case .ping(let operation):
            guard let task = pings.removeValue(forKey: operation) else { return [] }
            switch outcome {
            case .response(let response, _, let isColony):
                // The outcome keeps only whether the answer was a Colony node's: its version's two-letter client code.
                let version = isColony ? Array("CO".utf8) : nil
                task.completion(.answered(id: response.id, version: version, seconds: now.seconds(since: task.started)))
            case .error(let error): task.completion(.error(error))
            case .timedOut: task.completion(.timedOut)
            }
            return []
        case .bootstrap:
            bootstrap.waiting -= 1
            if case .response(let response, _, _) = outcome {
                bootstrap.answered = true
                table.heard(from: NodeInfo(id: response.id, endpoint: entry.endpoint), .response, now: now)
            }
            guard bootstrap.waiting == 0 else { return [] }
            if bootstrap.answered || table.count > 0 {
                bootstrap.nextAttempt = nil
                return startLookup(id: id, kind: .findNode, continuation: .join, now: now)
            }
            let delay = min(
                configuration.bootstrapRetry.first * Double(1 << min(bootstrap.attempt - 1, 20)),
                configuration.bootstrapRetry.maximum)
            bootstrap.nextAttempt = now.adding(seconds: delay)
            nextMaintenance = min(nextMaintenance, bootstrap.nextAttempt!)
            onEvent?(.bootstrapFailed(attempt: bootstrap.attempt, tried: bootstrap.endpoints, retryIn: delay))
            return []
        case .verify:
            if let expected = entry.nodeID { verifying.remove(expected) }
            return []
        case .maintenance:
            return []
        }
    }

    func attemptBootstrap(now: Instant) -> [Datagram] {
        bootstrap.attempt += 1
        bootstrap.answered = false
        bootstrap.nextAttempt = nil
        var out: [Datagram] = []
        for endpoint in bootstrap.endpoints {
            if let datagram = sendQuery(.findNode(target: id), to: endpoint, nodeID: nil, owner: .bootstrap, now: now) {
                out.append(datagram)
            }
        }
        bootstrap.waiting = out.count
        return out
    }

    /// Periodic care: retry the bootstrap, expire storage, ping questionable nodes, refresh stale buckets,
    /// republish.
    func maintain(now: Instant) -> [Datagram] {
        var out: [Datagram] = []
        if let next = bootstrap.nextAttempt, next <= now, bootstrap.waiting == 0 {
            if table.count == 0 { out += attemptBootstrap(now: now) } else { bootstrap.nextAttempt = nil }
        }
        storage.expire(now: now)
        for node in table.nodesToPing(now: now).prefix(4) {
            if let datagram = sendQuery(.ping, to: node.endpoint, nodeID: node.id, owner: .maintenance, now: now) {
                out.append(datagram)
            }
        }
        let refreshing = lookups.values.filter { if case .refresh = $0.continuation { true } else { false } }.count
        if refreshing == 0 && table.count > 0 {
            for target in table.refreshTargets(now: now).prefix(2) {
                out += startLookup(id: target, kind: .findNode, continuation: .refresh, now: now)
            }
        }
        for (target, publication) in published where publication.next <= now {
            let next = now.adding(seconds: configuration.republishInterval)
            switch publication {
            case .announce(let infoHash, let port, _):
                published[target] = .announce(infoHash: infoHash, port: port, next: next)
                out += startLookup(id: infoHash, kind: .getPeers, continuation: .announce(port: port, { _ in }), now: now)
            case .immutable(let item, _):
                published[target] = .immutable(item, next: next)
                out += startLookup(id: target, kind: .getImmutable, continuation: .putImmutable(item, { _ in }), now: now)
            case .mutable(let item, _):
                published[target] = .mutable(item, next: next)
                out += startLookup(
                    id: target, kind: .getMutable(publicKey: item.publicKey, salt: item.salt),
                    continuation: .putMutable(item, { _ in }), now: now)
            }
        }
        return out
    }
}
