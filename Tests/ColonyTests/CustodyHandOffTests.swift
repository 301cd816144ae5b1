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
        let (peers, manifest) = try Self.sixPeersWithAJob(in: folder)
        defer { for peer in peers { peer.stop(handOff: false) } }
        let job = manifest.id
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

    /// A worker knows a shard's set from the manifest; when a member it asks does not answer, it asks the others
    /// for changes in the background (netlab kill-custodian stalled: a worker that never learned the newcomer never
    /// asked it for leases, and the units whose slots it owned ran out of workers).
    @Test func aWorkerThatMeetsAGoneCustodianLearnsItsReplacement() throws {
        let folder = SwarmTestSupport.folder("handoff-learn")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (peers, manifest) = try Self.sixPeersWithAJob(in: folder)
        defer { for peer in peers { peer.stop(handOff: false) } }
        let ref = ShardRef(job: manifest.id, shard: 0)
        let set = manifest.custody.members(ofShard: 0)
        let first = try #require(peers.first { $0.identity.publicKey == set[0].key })

        // The worker: a peer that keeps no custody and knows the set from the manifest only.
        let worker = try CustodyJournalTests.peer(folder.appendingPathComponent("worker"), host: LocalSwarm.host(of: 7))
        try worker.start()
        defer { worker.stop(handOff: false) }
        worker.custody.withLock { $0.add(manifest) }
        #expect(worker.members(of: ref).map(\.key) == set.map(\.key))

        // A custodian hands off the shards it keeps records of: give it one.
        let earlier = Identity(privateKey: Ed25519PrivateKey())
        _ = try first.request(CustodyJournalTests.leaseFrame(manifest, worker: earlier), to: first.endpoint)
        first.stop(handOff: true)
        #expect(peers.contains { $0 !== first && $0.custodian.changes(ref).count == 1 }, "the leaving custodian was replaced")
        let identity = Identity(privateKey: Ed25519PrivateKey())
        #expect(throws: ColonyRequestError.self) {
            try worker.request(CustodyJournalTests.leaseFrame(manifest, worker: identity), to: first.endpoint)
        }
        worker.learnChangesSoon(ref)
        worker.learnQueue.sync {}   // the look-up runs on this queue: it has ended once the queue is drained
        let learned = worker.members(of: ref)
        #expect(!learned.contains { $0.key == first.identity.publicKey })
        #expect(learned.count == set.count)
        #expect(worker.authority(of: ref)?.epoch == 1)
    }

    /// A custodian stopped with a hand-off and started again on its data directory is no custodian of the shard any
    /// more, though its journal still holds the shard's records: the current custodians forward it nothing new. Asked
    /// how a worker's seals stand, it answered from that view, in which the seal's partners never came; the worker
    /// sat on its sealed result until its lease ran out and the unit took a fresh replica (netlab restart: 66 s
    /// against 15 s). It refuses now, and the worker asks the current set (`SwarmWorker.send`).
    @Test func aCustodianRestartedAfterHandingOffSendsWorkersToTheCurrentSet() throws {
        let folder = SwarmTestSupport.folder("handoff-restart")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (peers, manifest) = try Self.sixPeersWithAJob(in: folder)
        defer { for peer in peers { peer.stop(handOff: false) } }
        let ref = ShardRef(job: manifest.id, shard: 0)
        let set = manifest.custody.members(ofShard: 0)
        let index = try #require(peers.firstIndex { $0.identity.publicKey == set[0].key })
        let first = peers[index]
        let worker = Identity(privateKey: Ed25519PrivateKey())
        let lease = try CustodyRecord(
            try CustodyWire.payload(try first.request(CustodyJournalTests.leaseFrame(manifest, worker: worker), to: first.endpoint)))
        let status = CustodyWire.frame(
            "co_status",
            first.jobFields(manifest.id) + [
                ("shard", .integer(0)), ("worker", .bytes([UInt8](worker.publicKey.rawRepresentation))),
                ("units", .list(lease.entries.map { .integer(Int64($0.unit)) })),
            ])
        #expect(CustodyWire.op(try first.request(status, to: first.endpoint)) == "status")
        first.stop(handOff: true)
        let again = try CustodyJournalTests.peer(folder.appendingPathComponent("peer-\(index)"), host: LocalSwarm.host(of: index))
        try again.start()
        defer { again.stop(handOff: false) }
        #expect(again.custodian.recordIDs(ref).contains(lease.id), "the journal was read back")
        #expect(!again.custodian.isCustodian(ref))
        let asker = peers[(index + 1) % peers.count]
        do throws(ColonyRequestError) {
            let reply = try asker.request(status, to: again.endpoint)
            Issue.record("a peer that left the set answered \(CustodyWire.op(reply) ?? "?")")
        } catch {
            #expect(error.refusal?.reason == "not a custodian", "\(error)")
        }
        // The current custodians answer.
        let current = try #require(peers.first { $0 !== first && $0.custodian.isCustodian(ref) })
        #expect(CustodyWire.op(try asker.request(status, to: current.endpoint)) == "status")
    }

    /// Six peers that know each other, and an 8-unit tally job published by the first: custody of its one shard
    /// belongs to three of them.
    static func sixPeersWithAJob(in folder: URL) throws -> ([ColonyPeer], JobManifest) {
        var peers: [ColonyPeer] = []
        for index in 0..<6 {
            let peer = try CustodyJournalTests.peer(folder.appendingPathComponent("peer-\(index)"), host: LocalSwarm.host(of: index))
            try peer.start()
            peers.append(peer)
        }
        for peer in peers.dropFirst() { peer.join([peers[0].endpoint], timeout: 10) }
        for peer in peers { peer.join([peers[0].endpoint], timeout: 10) }
        let spec = SwarmTestSupport.spec(units: 8)
        let manifest = try peers[0].signJob(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), shardSize: 8)
        _ = try peers[0].publish(manifest)
        return (peers, manifest)
    }
}
