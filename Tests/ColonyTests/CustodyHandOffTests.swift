import ColonyCore
import ColonyDHT
import ColonyNet
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// Custody outlives its custodians (DESIGN.md, Custody and Trust): one that leaves is replaced by the next
/// closest node through a set change that a majority of the set signs, and hands it its records; a peer the
/// chain does not name keeps nothing and leases nothing.
@Suite(.serialized) struct CustodyHandOffTests {
    @Test func aLeavingCustodianIsReplacedByASignedChangeAndHandsOffItsRecords() throws {
        let folder = SwarmTestSupport.folder("handoff")
        defer { try? FileManager.default.removeItem(at: folder) }
        var peers: [ColonyPeer] = []
        for index in 0..<6 {
            let peer = try CustodyJournalTests.peer(folder.appendingPathComponent("peer-\(index)"), host: LocalSwarm.host(of: index))
            try peer.start()
            peers.append(peer)
        }
        defer { for peer in peers { peer.stop(handOff: false) } }
        for peer in peers.dropFirst() { peer.join([peers[0].endpoint], timeout: 10) }
        for peer in peers { peer.join([peers[0].endpoint], timeout: 10) }

        let spec = SwarmTestSupport.spec(units: 8)
        let manifest = try peers[0].signJob(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), shardSize: 8)
        let job = try peers[0].publish(manifest).job
        let ref = ShardRef(job: job, shard: 0)
        let set = manifest.custody.members(ofShard: 0)
        #expect(set.count == 3)
        let byKey = { (key: Ed25519PublicKey) in peers.first { $0.identity.publicKey == key }! }
        let first = byKey(set[0].key)

        let worker = Identity(privateKey: Ed25519PrivateKey())
        let leaseReply = try first.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: first.endpoint)
        let lease = try CustodyRecord(try CustodyWire.payload(leaseReply))
        let commit = CustodyRecord(
            kind: .commit, job: job, shard: 0, worker: worker.publicKey,
            entries: lease.entries.map { .init(unit: $0.unit, hash: [UInt8](repeating: 9, count: 32)) }, signedBy: worker)
        _ = try first.request(CustodyWire.frame("co_submit", first.jobFields(job), payload: commit.value), to: first.endpoint)
        let held = first.custodian.recordIDs(ref)
        #expect(held == [lease.id, commit.id])

        // The first custodian leaves: a change to epoch 1, signed by it and one other, puts a newcomer in its place,
        // and the newcomer holds what it held.
        first.stop(handOff: true)
        let remaining = peers.filter { $0 !== first && $0.isRunning }
        let changed = try #require(remaining.first { $0.custodian.changes(ref).count == 1 })
        let change = try #require(changed.custodian.changes(ref).first)
        #expect(change.epoch == 1 && change.signatures.count >= 2)
        #expect(!change.members.contains { $0.key == first.identity.publicKey })
        let newcomerKey = try #require(change.members.first { member in !set.contains { $0.key == member.key } }?.key)
        let newcomer = byKey(newcomerKey)
        #expect(newcomer.custodian.recordIDs(ref).isSuperset(of: held))
        #expect(newcomer.custodian.isCustodian(ref))

        // The newcomer leases under epoch 1, and anyone re-verifying accepts its leases from the chain alone.
        let other = Identity(privateKey: Ed25519PrivateKey())
        let second = try CustodyRecord(
            try CustodyWire.payload(try newcomer.request(CustodyJournalTests.leaseFrame(manifest, worker: other), to: newcomer.endpoint)))
        #expect(second.epoch == 1 && second.author == newcomerKey)
        var ledger = ShardLedger(manifest: manifest, shard: 0)
        try ledger.admit(change)
        try ledger.admit(second, id: second.id, now: CustodyClock.now(), submitted: false)
        // Without the change, the same lease names an epoch nobody can check: refused.
        var stranger = ShardLedger(manifest: manifest, shard: 0)
        #expect(throws: CustodyError.self) { try stranger.admit(second, id: second.id, now: CustodyClock.now(), submitted: false) }

        // A peer the chain does not name refuses to lease and keeps no ledger.
        let outsider = try #require(peers.first { peer in peer.isRunning && !change.members.contains { $0.key == peer.identity.publicKey } })
        #expect(throws: ColonyRequestError.self) {
            try outsider.request(CustodyJournalTests.leaseFrame(manifest, worker: other), to: outsider.endpoint)
        }
        #expect(outsider.custodian.ledgers[ref] == nil)
        let rejected = outsider.statistics.rejected
        #expect((rejected["not a custodian"] ?? 0) + (rejected["unknown job"] ?? 0) >= 1, "\(rejected)")
    }
}
