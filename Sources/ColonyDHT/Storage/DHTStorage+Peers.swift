import ColonyNet

extension DHTStorage {
    /// Records that `peer` announced itself for `infoHash` (BEP 5 announce_peer), or restarts its lifetime; false
    /// when `tryAnnounce` refuses it.
    @discardableResult
    public mutating func announce(peer: Endpoint, infoHash: NodeID, now: Instant) -> Bool {
        tryAnnounce(peer: peer, infoHash: infoHash, now: now) == nil
    }

    /// Records that `peer` announced itself for `infoHash` (BEP 5 announce_peer), or restarts its lifetime; nil
    /// when stored, else why not.
    ///
    /// A peer already stored is always refreshed. A new one is refused, storing nothing, for port 0 (no peer can
    /// listen on it), or when, after dropping expired entries, it would exceed a cap: its address's peers under
    /// this info-hash (`maxPeersPerAddressPerInfoHash`) or in all (`maxPeersPerAddress`), the info-hash's peers
    /// (`maxPeersPerInfoHash`), or the info-hashes stored (`maxInfoHashes`). The per-address caps come first, so
    /// one address announcing many ports takes a few slots and leaves the rest to others. The caller has already
    /// checked the write token, which binds the announce to the sender's address.
    public mutating func tryAnnounce(peer: Endpoint, infoHash: NodeID, now: Instant) -> AnnounceRefusal? {
        guard peer.port != 0 else { return .invalidPort }
        let expiresAt = now.adding(seconds: limits.peerLifetime)
        if swarms[infoHash]?[peer] != nil {
            swarms[infoHash]?[peer] = expiresAt
            noteDeadline(expiresAt)
            return nil
        }
        if refusal(forNew: peer, of: infoHash) != nil {
            expire(now: now)
            if let refusal = refusal(forNew: peer, of: infoHash) { return refusal }
        }
        swarms[infoHash, default: [:]][peer] = expiresAt
        peerCount += 1
        peersPerAddress[peer.address, default: 0] += 1
        noteDeadline(expiresAt)
        return nil
    }

    /// Peers stored for `address` over all info-hashes (until the next sweep, expired ones included).
    public func peerCount(from address: UInt32) -> Int {
        peersPerAddress[address] ?? 0
    }

    /// Up to `max` peers announced for `infoHash`: all of them when there are at most `max`, else a uniform random
    /// sample drawn from `generator`.
    public func peers(
        for infoHash: NodeID, max: Int = 50, using generator: inout some RandomNumberGenerator
    ) -> [Endpoint] {
        guard let swarm = swarms[infoHash], max > 0 else { return [] }
        var all = Array(swarm.keys)
        guard all.count > max else { return all }
        // Partial Fisher–Yates: the first `max` places end up a uniform sample.
        for index in 0..<max {
            let pick = Int.random(in: index..<all.count, using: &generator)
            all.swapAt(index, pick)
        }
        return Array(all[0..<max])
    }

    /// Up to `max` peers announced for `infoHash`, a random sample when there are more.
    public func peers(for infoHash: NodeID, max: Int = 50) -> [Endpoint] {
        var generator = SystemRandomNumberGenerator()
        return peers(for: infoHash, max: max, using: &generator)
    }

    /// The cap a peer not yet stored for `infoHash` would exceed; nil when it fits.
    private func refusal(forNew peer: Endpoint, of infoHash: NodeID) -> AnnounceRefusal? {
        let swarm = swarms[infoHash]
        if let swarm {
            // At most `maxPeersPerInfoHash` (200) entries: counting costs less than keeping another table.
            var sameAddress = 0
            for stored in swarm.keys where stored.address == peer.address { sameAddress += 1 }
            if sameAddress >= limits.maxPeersPerAddressPerInfoHash { return .addressFullInInfoHash }
        }
        if peerCount(from: peer.address) >= limits.maxPeersPerAddress { return .addressFull }
        if let swarm { return swarm.count < limits.maxPeersPerInfoHash ? nil : .infoHashFull }
        guard limits.maxPeersPerInfoHash > 0 else { return .infoHashFull }
        return swarms.count < limits.maxInfoHashes ? nil : .storageFull
    }
}
