@testable import Colony
import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation
import Testing

/// Issue 12: a NAT'd worker was chosen as a custodian and blob holder, and forwards to it timed out for as long as
/// the job ran. A peer now takes those roles only once others have dialed it back, on UDP and TCP, from addresses
/// it never contacted.
@Suite(.serialized) struct ReachabilityTests {
    /// A started peer on its own loopback address, deciding its reachability by dial-back.
    static func peer(_ index: Int, in folder: URL, advertised: Endpoint? = nil, bootstrap: [ColonyPeer] = []) throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.reachability = .checked
        configuration.advertised = advertised
        configuration.syncInterval = nil
        let peer = try ColonyPeer(
            dataDirectory: folder.appendingPathComponent("p\(index)"), host: LocalSwarm.host(of: 200 + index), port: 0,
            configuration: configuration)
        try peer.start()
        if !bootstrap.isEmpty { peer.join(bootstrap.map(\.endpoint), timeout: 10) }
        return peer
    }

    /// Waits until `condition` holds, at most `seconds`; checks it every 50 ms. Only for a routing table, which
    /// changes on the DHT's queue and tells nobody; reachability is awaited as an event (`waitForReachability`).
    static func eventually(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date() + seconds
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }

    @Test func peersDialedBackOnUDPAndTCPBecomeReachableAndTakeCustody() throws {
        let folder = SwarmTestSupport.folder("reach")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try Self.peer(1, in: folder)
        defer { first.stop(handOff: false) }
        #expect(first.reachability == .unknown)
        // Before it is dialed back, it keeps no custody.
        let publisher = try ColonyPeer(dataDirectory: folder.appendingPathComponent("publisher"), host: LocalSwarm.host(of: 210))
        try publisher.start()
        defer { publisher.stop(handOff: false) }
        #expect(publisher.acceptedCustody(of: first.endpoint, nonce: SecureRandom.bytes(count: 16)) == nil)

        let second = try Self.peer(2, in: folder, bootstrap: [first])
        defer { second.stop(handOff: false) }
        let third = try Self.peer(3, in: folder, bootstrap: [first])
        defer { third.stop(handOff: false) }
        // The second is dialed back by the first; the first by the second (it asked it to probe back); the third
        // by a third party the first knows.
        let all = [first, second, third]
        #expect(all.allSatisfy { $0.waitForReachability(.reachable, timeout: 30) }, "\(all.map(\.reachability))")
        #expect(publisher.acceptedCustody(of: first.endpoint, nonce: SecureRandom.bytes(count: 16)) != nil)
        // Reachable peers enter each other's tables (they no longer mark their queries read-only).
        #expect(Self.eventually(20) { first.blobs.node.withNode { node, _ in (node.table.contains(second.blobs.node.id), []) } })
    }

    @Test func aPeerNobodyCanDialBackIsAClientOnly() throws {
        let folder = SwarmTestSupport.folder("unreach")
        defer { try? FileManager.default.removeItem(at: folder) }
        let first = try Self.peer(4, in: folder)
        defer { first.stop(handOff: false) }
        let second = try Self.peer(5, in: folder, bootstrap: [first])
        defer { second.stop(handOff: false) }
        #expect(first.waitForReachability(.reachable, timeout: 30) && second.waitForReachability(.reachable, timeout: 30))
        // Port 9 of its own address: nothing listens there, as nothing forwards a NAT's port to a peer behind it.
        let natted = try Self.peer(6, in: folder, advertised: Endpoint(host: LocalSwarm.host(of: 206), port: 9), bootstrap: [first])
        defer { natted.stop(handOff: false) }
        #expect(natted.waitForReachability(.unreachable, timeout: 40), "\(natted.reachability)")

        // No custody: a publisher asking it is refused, by reason.
        let publisher = try ColonyPeer(dataDirectory: folder.appendingPathComponent("publisher"), host: LocalSwarm.host(of: 211))
        try publisher.start()
        defer { publisher.stop(handOff: false) }
        #expect(publisher.acceptedCustody(of: natted.endpoint, nonce: SecureRandom.bytes(count: 16)) == nil)
        #expect(natted.statistics.rejected["unreachable", default: 0] >= 1, "\(natted.statistics.rejected)")
        // A BEP 43 read-only DHT node: it answers no query, and nobody puts it in a table.
        #expect(natted.blobs.node.withNode { node, _ in (node.configuration.readOnly, []) })
        let ping = publisher.blobs.node.wait(timeout: 10) { dht, now, done in dht.ping(natted.endpoint, now: now) { done($0) } }
        if case .answered? = ping { Issue.record("a read-only node answered a ping") }
        #expect(!first.blobs.node.withNode { node, _ in (node.table.contains(natted.blobs.node.id), []) })
        #expect(!second.blobs.node.withNode { node, _ in (node.table.contains(natted.blobs.node.id), []) })
        // No blobs: a replica request is refused even for a blob it would want.
        let blob = try publisher.blobs.store.put(data: Data("input".utf8), pin: true).id
        natted.wantedBlobs.insert(blob)
        #expect(publisher.blobs.replicate(blob, to: [natted.endpoint]).isEmpty)
        // A custodian chosen among the nodes a lookup finds is never it.
        let nodes = publisher.closestNodes(to: natted.blobs.node.id.bytes, count: 8, refresh: true)
        #expect(!nodes.contains(natted.endpoint), "\(nodes)")
    }

    @Test func aProbeFromThePeerItAskedProvesNothing() throws {
        let folder = SwarmTestSupport.folder("probe")
        defer { try? FileManager.default.removeItem(at: folder) }
        let peer = try Self.peer(7, in: folder)
        defer { peer.stop(handOff: false) }
        let asked = Endpoint(host: LocalSwarm.host(of: 208), port: 7000)!
        let nonce = SecureRandom.bytes(count: 16)
        peer.reach.state.withLock { $0.checks[nonce] = ReachabilityState.Check(asked: asked, started: Date()) }
        // Both probes from the very endpoint it contacted: a NAT would let those through.
        peer.probed(nonce, from: asked, udp: true)
        peer.probed(nonce, from: asked, udp: false)
        #expect(peer.reachability == .unknown)
        // A nonce it never sent proves nothing either.
        let elsewhere = Endpoint(host: LocalSwarm.host(of: 209), port: 40_000)!
        peer.probed(SecureRandom.bytes(count: 16), from: elsewhere, udp: true)
        peer.probed(SecureRandom.bytes(count: 16), from: elsewhere, udp: false)
        #expect(peer.reachability == .unknown)
        // Both halves from elsewhere: reachable.
        peer.probed(nonce, from: elsewhere, udp: true)
        #expect(peer.reachability == .unknown)
        peer.probed(nonce, from: Endpoint(host: LocalSwarm.host(of: 209), port: 40_001)!, udp: false)
        #expect(peer.reachability == .reachable)
    }

    @Test func theProbeQueryRoundTripsAndIsNeverAnswered() throws {
        let nonce = Array(repeating: UInt8(7), count: 16)
        let message = KRPCMessage(
            transactionID: [1, 2], body: .query(senderID: NodeID.random(), .probe(nonce: nonce)), version: nil,
            readOnly: true, requester: nil)
        let decoded = try KRPCMessage.decode(message.encoded())
        guard case .query(_, .probe(let got)) = decoded.body else {
            Issue.record("decoded as \(decoded.body)")
            return
        }
        #expect(got == nonce)
        // A nonce out of bounds is malformed.
        var bad = message
        bad.body = .query(senderID: NodeID.random(), .probe(nonce: [1, 2]))
        #expect(throws: (any Error).self) { try KRPCMessage.decode(bad.encoded()) }
        // A node hands it to its handler and sends nothing back, read-only or not.
        let node = DHTNode(now: .monotonicNow())
        nonisolated(unsafe) var seen: [[UInt8]] = []
        node.onProbe = { nonce, _ in seen.append(nonce) }
        let source = Endpoint(host: "10.0.0.1", port: 1)!
        #expect(node.receive(message.encoded(), from: source, now: .monotonicNow()).isEmpty)
        node.setReadOnly(true, marksQueries: true)
        #expect(node.receive(message.encoded(), from: source, now: .monotonicNow()).isEmpty)
        #expect(seen == [nonce, nonce])
    }
}
