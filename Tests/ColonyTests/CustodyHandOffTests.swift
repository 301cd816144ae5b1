import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// Custody outlives its custodians (DESIGN.md, Custody): one that leaves hands its records to the next closest
/// node, and a node new to a shard pulls the records from the others before it answers about it.
@Suite(.serialized) struct CustodyHandOffTests {
    @Test func aLeavingCustodianHandsOffAndANewcomerPullsBeforeLeasing() throws {
        let folder = SwarmTestSupport.folder("handoff")
        defer { try? FileManager.default.removeItem(at: folder) }
        var peers: [ColonyPeer] = []
        for index in 0..<5 {
            let peer = try CustodyJournalTests.peer(folder.appendingPathComponent("peer-\(index)"))
            try peer.start()
            peers.append(peer)
        }
        defer { for peer in peers { peer.stop(handOff: false) } }
        for peer in peers.dropFirst() { peer.join([peers[0].endpoint], timeout: 10) }
        for peer in peers { peer.join([peers[0].endpoint], timeout: 10) }

        let manifest = try SwarmTestSupport.manifest(units: 8, shard: 8)
        let job = try peers[0].publish(manifest).job
        let ref = ShardRef(job: job, shard: 0)
        let key = try #require(NodeID(bytes: JobKeys.shard(job, 0)))
        // Nearest first: the first three keep custody; the fourth is next in line.
        let order = peers.sorted { $0.blobs.node.id.distance(to: key) < $1.blobs.node.id.distance(to: key) }
        let (first, next, outsider) = (order[0], order[3], order[4])

        let worker = Identity(privateKey: Ed25519PrivateKey())
        let leaseReply = try first.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: first.endpoint)
        let lease = try CustodyRecord(try CustodyWire.payload(leaseReply))
        let commit = CustodyRecord(
            kind: .commit, job: job, shard: 0, worker: worker.publicKey,
            entries: lease.entries.map { .init(unit: $0.unit, hash: [UInt8](repeating: 9, count: 32)) }, signedBy: worker)
        _ = try first.request(CustodyWire.frame("co_submit", first.jobFields(job), payload: commit.value), to: first.endpoint)
        let held = first.custodian.recordIDs(ref)
        #expect(held == [lease.id, commit.id])
        #expect(next.custodian.recordIDs(ref).isEmpty)

        // The first custodian leaves: the node next in line now holds what it held.
        first.stop(handOff: true)
        #expect(next.custodian.recordIDs(ref) == held)

        // A node that never kept the shard is asked for a lease by the same worker: it pulls first, so it knows
        // the worker already holds units 0…3 and leases it others.
        #expect(outsider.custodian.recordIDs(ref).isEmpty)
        let again = try outsider.request(
            CustodyJournalTests.leaseFrame(manifest, worker: worker), to: outsider.endpoint)
        let second = try CustodyRecord(try CustodyWire.payload(again))
        #expect(outsider.custodian.recordIDs(ref).isSuperset(of: held))
        #expect(Set(second.entries.map(\.unit)).isDisjoint(with: lease.entries.map(\.unit)))
    }
}
