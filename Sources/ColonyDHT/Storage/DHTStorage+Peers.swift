import ColonyNet

extension DHTStorage {
    /// Records that `peer` announced itself for `infoHash` (BEP 5 announce_peer), or restarts its lifetime.
    ///
    /// Returns false, storing nothing, when the peer is new and its info-hash already holds
    /// `limits.maxPeersPerInfoHash` peers, or the info-hash is new and `limits.maxInfoHashes` are stored, after
    /// dropping expired entries; also for port 0, which no peer can listen on. The caller has already checked the
    /// write token.
    @discardableResult
    public mutating func announce(peer: Endpoint, infoHash: NodeID, now: Instant) -> Bool {
        guard peer.port != 0 else { return false }
        let expiresAt = now.adding(seconds: limits.peerLifetime)
        if swarms[infoHash]?[peer] != nil {
            swarms[infoHash]?[peer] = expiresAt
            noteDeadline(expiresAt)
            return true
        }
        if !hasRoom(forNewPeerOf: infoHash) {
            expire(now: now)
            guard hasRoom(forNewPeerOf: infoHash) else { return false }
        }
        swarms[infoHash, default: [:]][peer] = expiresAt
        peerCount += 1
        noteDeadline(expiresAt)
        return true
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

    /// Whether a peer not yet stored for `infoHash` would fit under the caps.
    private func hasRoom(forNewPeerOf infoHash: NodeID) -> Bool {
        if let swarm = swarms[infoHash] { return swarm.count < limits.maxPeersPerInfoHash }
        return swarms.count < limits.maxInfoHashes && limits.maxPeersPerInfoHash > 0
    }
}
