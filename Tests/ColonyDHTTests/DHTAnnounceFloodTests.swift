import ColonyCore
import ColonyNet
import Testing

@testable import ColonyDHT

/// A flooder against one node's announce storage and the node's other tables keyed by what others send: one address
/// announcing a thousand made-up ports under a topic, or itself under a thousand info-hashes, and a crowd of voters
/// for the node's external address. Hand-built KRPC datagrams from 10.x addresses (local, so BEP 42 allows any ID).
@Suite struct DHTAnnounceFloodTests {
    let now = Instant.seconds(5_000)
    let topic = NodeID(SHA1.hash(Array("colony:kernel:primes:1".utf8)))

    func node(_ limits: StorageLimits = StorageLimits()) -> DHTNode {
        var configuration = DHTConfiguration()
        configuration.storage = limits
        var generator = SeededGenerator(seed: 42)
        return DHTNode(id: .random(using: &generator), configuration: configuration, now: now)
    }

    /// Sends `query` from `sender` and returns the decoded reply to it.
    func ask(_ node: DHTNode, _ query: KRPCQuery, from sender: Endpoint, id: NodeID) -> KRPCMessage? {
        let transactionID: [UInt8] = [0x61, 0x61]
        let bytes = KRPCMessage.query(query, from: id, transactionID: transactionID).encoded()
        for datagram in node.receive(bytes, from: sender, now: now) where datagram.endpoint == sender {
            if let message = try? KRPCMessage.decode(datagram.bytes), !message.isQuery { return message }
        }
        return nil
    }

    /// get_peers for the token, then announce_peer with it: the KRPC error code, or nil when stored.
    func announce(_ node: DHTNode, from sender: Endpoint, port: UInt16, under infoHash: NodeID) -> Int? {
        let id = NodeID(SHA1.hash(sender.octets + [UInt8(sender.port >> 8), UInt8(sender.port & 0xFF)]))
        guard case .response(let first)? = ask(node, .getPeers(infoHash: infoHash), from: sender, id: id)?.body,
            let token = first.token
        else {
            Issue.record("get_peers from \(sender) got no token")
            return -1
        }
        let reply = ask(
            node, .announcePeer(infoHash: infoHash, port: port, impliedPort: false, token: token), from: sender, id: id)
        switch reply?.body {
        case .response?: return nil
        case .error(let error)?: return error.code
        default: return -1
        }
    }

    @Test func oneAddressAnnouncingAThousandPortsLeavesRoomForHonestAnnouncers() {
        let node = node()
        let flooder = Endpoint(host: "10.66.0.1", port: 6881)!
        var refused = 0
        for port in UInt16(1_000)..<2_000 {
            if let code = announce(node, from: flooder, port: port, under: topic) {
                #expect(code == 202)
                refused += 1
            }
        }
        let cap = StorageLimits().maxPeersPerAddressPerInfoHash
        #expect(refused == 1_000 - cap)
        #expect(node.statistics.announcesRefused == [AnnounceRefusal.addressFullInInfoHash.reason: 1_000 - cap])
        #expect(node.storage.peerCount == cap)

        // Forty honest workers on their own addresses all fit.
        let honest = (0..<40).map { Endpoint(address: 0x0A01_0000 + UInt32($0), port: 7_000) }
        for peer in honest { #expect(announce(node, from: peer, port: peer.port, under: topic) == nil) }
        // get_peers returns up to 50: every honest announcer is among them.
        let asker = Endpoint(host: "10.2.0.1", port: 6881)!
        guard case .response(let answer)? = ask(node, .getPeers(infoHash: topic), from: asker, id: .random())?.body
        else {
            Issue.record("get_peers got no response")
            return
        }
        let values = Set(answer.values ?? [])
        #expect(values.isSuperset(of: honest))
        #expect(values.filter { $0.address == flooder.address }.count == cap)
        // A stored announce is refreshed, never refused.
        #expect(announce(node, from: flooder, port: 1_000, under: topic) == nil)
    }

    @Test func oneAddressCannotTakeEveryInfoHashSlot() {
        var limits = StorageLimits()
        limits.maxInfoHashes = 600
        let node = node(limits)
        let flooder = Endpoint(host: "10.66.0.2", port: 6881)!
        var stored = 0
        for number in 0..<1_000 {
            let infoHash = NodeID(SHA1.hash(Array("junk \(number)".utf8)))
            if announce(node, from: flooder, port: 6881, under: infoHash) == nil { stored += 1 }
        }
        #expect(stored == limits.maxPeersPerAddress)
        #expect(node.storage.peerCount(from: flooder.address) == limits.maxPeersPerAddress)
        #expect(
            node.statistics.announcesRefused[AnnounceRefusal.addressFull.reason] == 1_000 - limits.maxPeersPerAddress)
        // The info-hash slots left are others' to take.
        let honest = Endpoint(host: "10.1.2.3", port: 7_000)!
        #expect(announce(node, from: honest, port: 7_000, under: topic) == nil)
        #expect(node.storage.infoHashCount == limits.maxPeersPerAddress + 1)
    }

    @Test func storageCapsPerAddressAndTheirRelease() {
        var limits = StorageLimits()
        limits.maxPeersPerAddressPerInfoHash = 2
        limits.maxPeersPerAddress = 3
        var storage = DHTStorage(limits: limits)
        let address: UInt32 = 0x0A42_0001
        let start = Instant.seconds(100)
        let hashA = NodeID(SHA1.hash(Array("a".utf8)))
        let hashB = NodeID(SHA1.hash(Array("b".utf8)))
        func attempt(
            _ port: UInt16, _ infoHash: NodeID, at time: Instant = start, address: UInt32 = address
        )
            -> AnnounceRefusal?
        {
            storage.tryAnnounce(peer: Endpoint(address: address, port: port), infoHash: infoHash, now: time)
        }
        #expect(attempt(1, hashA) == nil)
        #expect(attempt(2, hashA) == nil)
        #expect(attempt(3, hashA) == .addressFullInInfoHash)
        #expect(attempt(3, hashB) == nil)
        #expect(attempt(4, hashB) == .addressFull)
        #expect(attempt(0, hashB) == .invalidPort)
        // Refreshing a stored peer is not a new one.
        #expect(attempt(1, hashA, at: start.adding(seconds: 60)) == nil)
        // Another address is counted apart.
        #expect(attempt(1, hashA, address: address + 1) == nil)
        #expect(storage.peerCount(from: address) == 3)
        // Once the address's peers expire, its slots are free again.
        let later = start.adding(seconds: limits.peerLifetime + 61)
        #expect(attempt(5, hashB, at: later) == nil)
        #expect(storage.peerCount(from: address) == 1)
        #expect(storage.peerCount == 1)
    }

    @Test(arguments: ["maxPeersPerAddressPerInfoHash", "maxPeersPerAddress"])
    func aBadPerAddressCapIsNamed(field: String) {
        var limits = StorageLimits()
        if field == "maxPeersPerAddress" {
            limits.maxPeersPerAddress = 0
        } else {
            limits.maxPeersPerAddressPerInfoHash = 0
        }
        #expect {
            try limits.validate()
        } throws: { error in
            (error as? StorageLimitsError)?.field == field
        }
    }

    // MARK: Other tables keyed by what others send

    @Test func votersForTheExternalAddressAreBounded() {
        let node = node()
        let claimed = Endpoint(host: "10.9.9.9", port: 6881)!
        for index in 0..<1_000 {
            let contact = Endpoint(address: 0x0A30_0000 + UInt32(index), port: 6881)
            let sent = node.ping(contact, now: now) { _ in }
            guard let query = sent.first, let message = try? KRPCMessage.decode(query.bytes) else {
                Issue.record("no ping to \(contact)")
                return
            }
            let reply = KRPCMessage(
                transactionID: message.transactionID, body: .response(KRPCResponse(id: .random())),
                requester: claimed)
            _ = node.receive(reply.encoded(), from: contact, now: now)
        }
        #expect(node.externalAddress?.address == claimed.address)
        #expect(node.votes[claimed]?.count == DHTNode.maxVoters)
    }

    @Test func aGetPeersLookupCollectsBoundedPeers() {
        var generator = SeededGenerator(seed: 7)
        let target = NodeID.random(using: &generator)
        let seeds = (0..<20).map {
            NodeInfo(id: .random(using: &generator), endpoint: Endpoint(address: 0x0A50_0000 + UInt32($0), port: 1))
        }
        var lookup = Lookup(
            target: target, kind: .getPeers, k: 8, alpha: 3, maxCandidates: 100, seeds: seeds, ownID: .random())
        for (index, seed) in seeds.enumerated() {
            var response = KRPCResponse(id: seed.id)
            // Each answer carries 200 distinct made-up peers.
            response.values = (0..<200).map { Endpoint(address: 0x0B00_0000 + UInt32(index * 200 + $0), port: 9) }
            lookup.responded(seed.id, response: response, isColony: false)
        }
        #expect(lookup.peers.count == Lookup.maxPeers)
    }
}
