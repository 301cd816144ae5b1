import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// BEP 5 announce_peer storage: sampling, lifetimes and caps.
@Suite("DHT storage: peers")
struct StoragePeerTests {
    typealias S = StorageTestSupport

    @Test func announceAndList() {
        var storage = DHTStorage()
        let hash = S.infoHash(1)
        #expect(storage.peers(for: hash).isEmpty)
        let accepted1 = storage.announce(peer: S.peer(1), infoHash: hash, now: S.at(0))
        #expect(accepted1)
        let accepted2 = storage.announce(peer: S.peer(2), infoHash: hash, now: S.at(0))
        #expect(accepted2)
        let accepted3 = storage.announce(peer: S.peer(1, port: 7000), infoHash: hash, now: S.at(0))
        #expect(accepted3)
        let accepted4 = storage.announce(peer: S.peer(1), infoHash: hash, now: S.at(5))  // refresh, not a new peer
        #expect(accepted4)
        let accepted5 = storage.announce(peer: S.peer(1), infoHash: S.infoHash(2), now: S.at(5))
        #expect(accepted5)
        #expect(Set(storage.peers(for: hash)) == [S.peer(1), S.peer(2), S.peer(1, port: 7000)])
        #expect(storage.peers(for: S.infoHash(2)) == [S.peer(1)])
        #expect(storage.peerCount == 4)
        #expect(storage.infoHashCount == 2)
    }

    @Test func portZeroIsRefused() {
        var storage = DHTStorage()
        let accepted6 = storage.announce(peer: S.peer(1, port: 0), infoHash: S.infoHash(1), now: S.at(0))
        #expect(!accepted6)
        #expect(storage.peerCount == 0)
        #expect(storage.infoHashCount == 0)
    }

    @Test func moreThanMaxGivesAUniformSampleOfDistinctPeers() {
        var storage = DHTStorage()
        let hash = S.infoHash(3)
        let all = Set((0..<120).map { S.peer($0) })
        for peer in all { storage.announce(peer: peer, infoHash: hash, now: S.at(0)) }
        #expect(storage.peers(for: hash, max: 200).count == 120)
        #expect(storage.peers(for: hash, max: 0).isEmpty)

        var generator = StorageSplitMix(seed: 1)
        var seen: [Endpoint: Int] = [:]
        let rounds = 400
        for _ in 0..<rounds {
            let sample = storage.peers(for: hash, max: 30, using: &generator)
            #expect(sample.count == 30)
            #expect(Set(sample).count == 30)
            #expect(Set(sample).isSubset(of: all))
            for peer in sample { seen[peer, default: 0] += 1 }
        }
        // Each peer is expected 400 × 30/120 = 100 times; a biased sampler (say, always the first 30) would leave
        // most peers at 0. The bounds are ±6 standard deviations (σ ≈ 8.7), so a fair sampler never fails them.
        #expect(seen.count == 120)
        for count in seen.values { #expect((48...152).contains(count)) }
        #expect(storage.peers(for: hash).count == 50)
    }

    @Test func peersExpireAfterTheirLifetimeAndReannouncingRefreshes() {
        var storage = DHTStorage()
        let lifetime = storage.limits.peerLifetime
        #expect(lifetime == 1800)
        let hash = S.infoHash(4)
        storage.announce(peer: S.peer(1), infoHash: hash, now: S.at(0))
        storage.announce(peer: S.peer(2), infoHash: hash, now: S.at(0))
        storage.announce(peer: S.peer(3), infoHash: S.infoHash(5), now: S.at(0))
        storage.announce(peer: S.peer(1), infoHash: hash, now: S.at(900))
        storage.expire(now: S.at(lifetime - 0.001))
        #expect(storage.peerCount == 3)
        storage.expire(now: S.at(lifetime))
        #expect(storage.peers(for: hash) == [S.peer(1)])
        #expect(storage.peers(for: S.infoHash(5)).isEmpty)
        #expect(storage.infoHashCount == 1)
        #expect(storage.peerCount == 1)
        storage.expire(now: S.at(900 + lifetime))
        #expect(storage.peerCount == 0)
        #expect(storage.infoHashCount == 0)
    }

    @Test func capsHoldUnderAFlood() {
        var limits = StorageLimits()
        limits.maxInfoHashes = 10
        limits.maxPeersPerInfoHash = 5
        var storage = DHTStorage(limits: limits)
        var accepted = 0
        for number in 0..<5000 {
            // 50 info-hashes × 100 peers each, interleaved.
            if storage.announce(peer: S.peer(number / 50), infoHash: S.infoHash(number % 50), now: S.at(0)) {
                accepted += 1
            }
        }
        #expect(accepted == 50)
        #expect(storage.infoHashCount == 10)
        #expect(storage.peerCount == 50)
        for number in 0..<10 { #expect(storage.peers(for: S.infoHash(number)).count == 5) }
        #expect(storage.peers(for: S.infoHash(10)).isEmpty)
        // A stored peer can still refresh; a new one still cannot get in.
        let accepted7 = storage.announce(peer: S.peer(0), infoHash: S.infoHash(0), now: S.at(60))
        #expect(accepted7)
        let accepted8 = storage.announce(peer: S.peer(999), infoHash: S.infoHash(0), now: S.at(60))
        #expect(!accepted8)
        // After the lifetime the refreshed peer is the only one left, and new peers and info-hashes fit again.
        let later = S.at(limits.peerLifetime + 1)
        let accepted9 = storage.announce(peer: S.peer(999), infoHash: S.infoHash(0), now: later)
        #expect(accepted9)
        let accepted10 = storage.announce(peer: S.peer(999), infoHash: S.infoHash(42), now: later)
        #expect(accepted10)
        #expect(storage.peerCount == 3)
        #expect(storage.infoHashCount == 2)
    }
}
