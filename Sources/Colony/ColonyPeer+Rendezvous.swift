import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// Finding Colony peers through any BitTorrent DHT (DESIGN.md, Networks): each serving peer of a network announces
/// itself under the network's rendezvous key, and looks up the others there. A peer that knows only an ordinary
/// DHT node (libtorrent, the Mainline DHT) finds its swarm that way; no Colony address is needed in advance.
extension ColonyPeer {
    // MARK: Rendezvous

    /// Starts the periodic rendezvous of a serving peer (`Configuration.rendezvous`): 5 s after the last look,
    /// doubling to a minute, until it has found a peer of its network; every 10 minutes after.
    func startRendezvous() {
        guard configuration.rendezvous, !configuration.oneShot else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "colony.rendezvous"))
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { [weak self] in
            guard let self, isRunning, Date() >= rendezvousState.withLock({ $0.next }) else { return }
            let found = meetPeers()
            rendezvousState.withLock { state in
                state.misses = found > 0 ? 0 : state.misses + 1
                state.next = Date() + (found > 0 ? 600 : min(60, 5 * pow(2, Double(min(state.misses - 1, 4)))))
            }
        }
        timer.resume()
        rendezvousTimer = timer
    }

    /// The Colony peers of this network found so far, with their node IDs; a one-shot peer that has none looks
    /// them up now.
    func rendezvousPeers() -> [(Endpoint, NodeID)] {
        // Once per one-shot peer: a swarm that announces nothing there must not pay a lookup on every call.
        let due = rendezvousState.withLock { state -> Bool in
            guard configuration.rendezvous, configuration.oneShot, state.peers.isEmpty, Date() >= state.next else { return false }
            state.next = .distantFuture
            return true
        }
        if due && blobs.node.withNode({ node, _ in (node.table.count, []) }) > 0 { _ = meetPeers(announcing: false) }
        return rendezvousState.withLock { $0.peers }.map { ($0.key, $0.value) }
    }

    /// Looks up the peers announced under the network's key, pings each (a Colony node answers with its ID and
    /// "CO" version, and enters the routing table), and announces this peer there when others can reach it.
    /// Returns how many Colony peers of the network are known. Says once when the first are found.
    @discardableResult
    func meetPeers(announcing: Bool = true) -> Int {
        let key = Networks.rendezvousKey(configuration.network)
        let met = colonyNodeIDs(of: Array(peers(under: key).filter { $0 != endpoint }.prefix(32)))
        // Announced until the peer knows others cannot reach it: peers not yet dialed back must find each other
        // here to dial each other back. One that does not answer a ping is never counted as met.
        if announcing && reach.status != .unreachable { announce(under: key) }
        let (before, after) = rendezvousState.withLock { state -> (Int, Int) in
            let before = state.peers.count
            state.peers.merge(met) { _, new in new }
            if state.peers.count > 256 { state.peers = met }
            return (before, state.peers.count)
        }
        if before == 0 && after > 0 {
            log("found \(after) Colony peers of network '\(configuration.network)' through the DHT: \(met.keys.sorted().prefix(6).map(\.description).joined(separator: ", "))")
        }
        return after
    }

    /// The node ID of `peer` when it answers a DHT ping as a Colony node; nil otherwise.
    func colonyNodeID(of peer: Endpoint) -> NodeID? { colonyNodeIDs(of: [peer])[peer] }

    /// The node IDs of those of `peers` that answer a DHT ping as Colony nodes, pinged all at once: peers that
    /// announced themselves before they learned they are behind a NAT answer nobody, and pinged one after another
    /// each cost a one-shot command a ping's timeout (netlab nat-mixed: 5 s of every `publish`). Once one has
    /// answered, the others get `straggling` seconds more (a peer on the same network answers in milliseconds;
    /// waiting out the timeout of an unreachable one cost `publish` 2.5 s).
    func colonyNodeIDs(of peers: [Endpoint], straggling: Double = 0.5) -> [Endpoint: NodeID] {
        guard !peers.isEmpty else { return [:] }
        let found = PingTally(expected: peers.count)
        let all = blobs.node.wait(timeout: 10) { dht, now, done -> [Datagram] in
            var out: [Datagram] = []
            for peer in peers {
                out += dht.ping(peer, now: now) { answer in
                    if case .answered(let id, let version, _) = answer, DHTConfiguration.isColony(version) {
                        if found.answered(peer, id) {
                            DispatchQueue.global().asyncAfter(deadline: .now() + straggling) {
                                if found.finish() { done(found.ids) }
                            }
                        }
                    } else {
                        found.failed()
                    }
                    if found.isComplete, found.finish() { done(found.ids) }
                }
            }
            return out
        }
        return all ?? found.ids
    }
}

/// Answers to pings sent together, as they come.
private final class PingTally: Sendable {
    private let state: Mutex<(ids: [Endpoint: NodeID], pending: Int)>
    private let finished = Atomic<Bool>(false)

    init(expected: Int) { state = Mutex(([:], expected)) }

    /// Counts an answer; true for the first.
    func answered(_ peer: Endpoint, _ id: NodeID) -> Bool {
        state.withLock {
            $0.ids[peer] = id
            $0.pending -= 1
            return $0.ids.count == 1
        }
    }

    func failed() { state.withLock { $0.pending -= 1 } }
    var isComplete: Bool { state.withLock { $0.pending <= 0 } }
    var ids: [Endpoint: NodeID] { state.withLock { $0.ids } }
    /// True once: the caller reports the tally.
    func finish() -> Bool { finished.exchange(true, ordering: .relaxed) == false }
}
