import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation

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
        var met: [Endpoint: NodeID] = [:]
        for peer in peers(under: key).prefix(32) where peer != endpoint {
            if let id = colonyNodeID(of: peer) { met[peer] = id }
        }
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
    func colonyNodeID(of peer: Endpoint) -> NodeID? {
        let answer = blobs.node.wait(timeout: 10) { dht, now, done in dht.ping(peer, now: now) { done($0) } }
        guard case .answered(let id, let version, _)? = answer, DHTConfiguration.isColony(version) else { return nil }
        return id
    }
}
