import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation

/// Finding Colony peers on the LAN with no flags: BEP 14 local service discovery, announcing the network's
/// rendezvous key as the info-hash (DESIGN.md, Networks).
extension ColonyPeer {
    // MARK: Local service discovery

    /// Joins the BEP 14 group on this peer's interface, announces this peer now and every 5 minutes (while others
    /// may reach it), and joins each Colony peer of its network it hears. Says so and goes on without it when the
    /// group cannot be joined (no multicast route, as on a loopback-only host).
    func startLocalDiscovery() {
        guard configuration.localDiscovery, !configuration.oneShot else { return }
        let socket: LocalServiceDiscovery.Socket
        do {
            socket = try LocalServiceDiscovery.Socket(interface: endpoint.address)
        } catch {
            log("local service discovery (BEP 14) is off: \(error)")
            return
        }
        let key = Networks.rendezvousKey(configuration.network)
        let cookie = SecureRandom.bytes(count: 8).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        Thread.detachNewThread { [self] in
            var nextAnnounce = Date()
            var heard: Set<Endpoint> = []
            while isRunning {
                if Date() >= nextAnnounce {
                    nextAnnounce = Date() + 300
                    if reach.status != .unreachable {
                        try? socket.send(.init(port: reachablePort, infoHashes: [key], cookie: cookie))
                    }
                }
                // Waits up to half a second for a message: the loop also notices the peer stopping.
                guard let (announcement, source) = socket.receive(), announcement.cookie != cookie,
                    announcement.infoHashes.contains(key)
                else { continue }
                let peer = Endpoint(address: source.address, port: announcement.port)
                guard peer != endpoint, heard.count < 1_024, heard.insert(peer).inserted else { continue }
                DispatchQueue.global().async { [self] in meetLocal(peer) }
                // A newcomer announced itself: answer at once, so that it hears this peer too.
                if reach.status != .unreachable { try? socket.send(.init(port: reachablePort, infoHashes: [key], cookie: cookie)) }
            }
        }
    }

    /// Pings a peer heard on the LAN; a Colony node joins the routing table (through a self-lookup via it) and the
    /// network's known peers.
    private func meetLocal(_ peer: Endpoint) {
        guard let id = colonyNodeID(of: peer) else { return }
        rendezvousState.withLock { state in
            if state.peers.count < 256 { state.peers[peer] = id }
        }
        blobs.node.join([peer], timeout: 10)
        log("found Colony peer \(peer) of network '\(configuration.network)' on the LAN (BEP 14 local service discovery)")
    }
}
