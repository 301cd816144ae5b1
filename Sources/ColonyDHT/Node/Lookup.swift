import ColonyCore
import ColonyNet

/// One iterative Kademlia lookup, free of I/O: which nodes to ask next, what they answered, when it is done.
///
/// Candidates are kept sorted by XOR distance to the target. At most α requests count as in flight; a request
/// that passes the short timeout stops counting, so the lookup branches wider around a slow node. The lookup
/// ends when the k closest candidates that have not failed have all answered, or nothing is left to ask.
struct Lookup {
    enum Kind: Equatable {
        case findNode
        case getPeers
        case getImmutable
        case getMutable(publicKey: [UInt8], salt: [UInt8])
    }

    enum State: Equatable {
        case fresh, inFlight, slow, responded, failed
    }

    struct Candidate {
        var node: NodeInfo
        var distance: NodeID
        var state: State = .fresh
        var depth: Int
        var token: [UInt8]?
        var isColony = false
    }

    let target: NodeID
    let kind: Kind
    let k: Int
    let alpha: Int
    let maxCandidates: Int
    private(set) var candidates: [Candidate] = []
    private var seen: Set<NodeID> = []
    /// Queries sent.
    private(set) var messages = 0
    /// The deepest round that produced an answer.
    private(set) var rounds = 0
    /// Peers found by get_peers.
    private(set) var peers: Set<Endpoint> = []
    /// The item found by a get, verified against the target.
    private(set) var immutableItem: ImmutableItem?
    private(set) var mutableItem: MutableItem?
    /// Answers whose item failed verification.
    private(set) var badItems = 0
    /// Finish as soon as a verified immutable item arrives.
    var stopsAtFirstItem = false
    /// The most peers a get_peers lookup collects: each answer carries at most 200, but a long lookup through
    /// hostile nodes could otherwise gather any number.
    static let maxPeers = 1_000

    init(target: NodeID, kind: Kind, k: Int, alpha: Int, maxCandidates: Int, seeds: [NodeInfo], ownID: NodeID) {
        self.target = target
        self.kind = kind
        self.k = k
        self.alpha = alpha
        self.maxCandidates = max(maxCandidates, k)
        seen.insert(ownID)
        add(seeds, depth: 1)
    }

    /// The query this lookup sends.
    var query: KRPCQuery {
        switch kind {
        case .findNode: .findNode(target: target)
        case .getPeers: .getPeers(infoHash: target)
        case .getImmutable, .getMutable: .get(target: target, seq: nil)
        }
    }

    /// Merges newly learned nodes, keeping the list sorted and bounded.
    mutating func add(_ nodes: [NodeInfo], depth: Int) {
        var added = false
        for node in nodes where !seen.contains(node.id) && node.endpoint.port != 0 {
            seen.insert(node.id)
            candidates.append(Candidate(node: node, distance: node.id.distance(to: target), depth: depth))
            added = true
        }
        guard added else { return }
        candidates.sort { $0.distance < $1.distance }
        if candidates.count > maxCandidates {
            // Forget the farthest fresh candidates; never drop one whose request is still open.
            var excess = candidates.count - maxCandidates
            var index = candidates.count - 1
            while excess > 0 && index >= 0 {
                if candidates[index].state == .fresh {
                    candidates.remove(at: index)
                    excess -= 1
                }
                index -= 1
            }
        }
    }

    /// The nodes to query now, marked in flight.
    mutating func nextQueries() -> [NodeInfo] {
        guard !isFinished else { return [] }
        var inFlight = candidates.reduce(0) { $0 + ($1.state == .inFlight ? 1 : 0) }
        var chosen: [NodeInfo] = []
        var consideredLive = 0
        for index in candidates.indices where inFlight < alpha {
            let state = candidates[index].state
            if state == .failed { continue }
            consideredLive += 1
            // Only the k closest live candidates are asked; farther ones wait until a closer one fails.
            if consideredLive > k { break }
            if state == .fresh {
                candidates[index].state = .inFlight
                inFlight += 1
                messages += 1
                chosen.append(candidates[index].node)
            }
        }
        return chosen
    }

    /// True when the k closest live candidates have answered, or nothing is open and nothing is left to ask.
    var isFinished: Bool {
        if stopsAtFirstItem && immutableItem != nil { return true }
        var live = 0
        for candidate in candidates where candidate.state != .failed {
            if candidate.state != .responded { return false }
            live += 1
            if live == k { return true }
        }
        // Fewer than k live candidates, and every one of them has answered.
        return true
    }

    private func index(of id: NodeID) -> Int? {
        candidates.firstIndex { $0.node.id == id }
    }

    /// Records an answer from `id`.
    mutating func responded(_ id: NodeID, response: KRPCResponse, isColony: Bool) {
        guard let index = index(of: id) else { return }
        let depth = candidates[index].depth
        candidates[index].state = .responded
        candidates[index].token = response.token
        candidates[index].isColony = isColony
        rounds = max(rounds, depth)
        if let values = response.values, peers.count < Self.maxPeers {
            peers.formUnion(values.prefix(Swift.min(200, Self.maxPeers - peers.count)))
        }
        switch kind {
        case .getImmutable:
            if let value = response.value {
                let item = ImmutableItem(value: value)
                if item.target == target { immutableItem = item } else { badItems += 1 }
            }
        case .getMutable(let publicKey, let salt):
            if let value = response.value, let key = response.publicKey, let signature = response.signature,
                let seq = response.seq
            {
                let item = MutableItem(publicKey: key, salt: salt, seq: seq, value: value, signature: signature)
                if key == publicKey && item.target == target && item.hasValidSignature {
                    if mutableItem == nil || seq > mutableItem!.seq { mutableItem = item }
                } else {
                    badItems += 1
                }
            }
        case .findNode, .getPeers:
            break
        }
        if let nodes = response.nodes { add(nodes, depth: depth + 1) }
    }

    /// Records that `id` passed the short timeout: it no longer counts against α.
    mutating func slow(_ id: NodeID) {
        guard let index = index(of: id), candidates[index].state == .inFlight else { return }
        candidates[index].state = .slow
    }

    /// Records that `id` did not answer, or answered with an error.
    mutating func failed(_ id: NodeID) {
        guard let index = index(of: id) else { return }
        candidates[index].state = .failed
    }

    /// The k closest nodes that answered, with the tokens they gave.
    var closest: [Candidate] {
        Array(candidates.lazy.filter { $0.state == .responded }.prefix(k))
    }
}
