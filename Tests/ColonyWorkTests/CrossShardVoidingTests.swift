import ColonyCore
import ColonyNet
import Foundation
import Testing

@testable import ColonyWork

/// A failed check in one shard of a job voids what the worker ran alone in the job's other shards (issue 14,
/// Sleeper: "every one of its unreplicated results after its first detected cheat is recomputed").
extension AdaptiveReplicationTests {
    /// Two shards of 20 units, kept by the same three custodians; trust after 2.
    static func twoShards() throws -> CustodyCluster {
        try CustodyCluster(units: 40, shard: 20, maxAttempts: 6) { redundancy in
            redundancy.adaptive = true
            redundancy.minSpotCheck = 0.01
            redundancy.trustAfter = 2
        }
    }

    /// Alice, trusted, leases a unit of shard 1 from the first slot owner of unit 20 and runs it alone with a wrong
    /// output no draw checks (the test holds the custodians' keys); returns the unit.
    func cheatAloneInShard1(_ cluster: inout CustodyCluster, at time: Int64) throws -> Int {
        let c = cluster.owners(20)[0]
        let lease = try #require(try cluster.lease(alice, network: 1, via: c, shard: 1, at: time))
        try #require(lease.entries.count == 1)
        let unit = lease.entries[0].unit
        // Trusted on the checks she passed in shard 0.
        #expect(lease.standing >= 2 && lease.prior >= 2)
        let output = try Self.output(cluster, unit, right: false, custodian: c, worker: alice, standing: lease.standing, checked: false)
        try cluster.submit(cluster.commit(alice, units: [unit], shard: 1, at: time + 1, outputs: { _ in output }), via: c, at: time + 1)
        cluster.sync(at: time + 1)
        try cluster.submit(cluster.reveal(alice, units: [unit], shard: 1, at: time + 2, outputs: { _ in output }), via: c, at: time + 2)
        cluster.sync(at: time + 2)
        #expect(cluster.verdict(unit, time: time + 2)?.agreeing == [alice.publicKey], "unit \(unit)")
        return unit
    }

    /// A stranger's ledgers of both shards, rebuilt from custodian 0's records, each with the other's failures
    /// (`foreignFailures`) as `colony results` sets them, or without.
    func rebuiltShards(_ cluster: CustodyCluster, sharingFailures: Bool) throws -> [ShardLedger] {
        var ledgers: [ShardLedger] = []
        for shard in 0..<cluster.manifest.shardCount {
            var ledger = ShardLedger(manifest: cluster.manifest, shard: shard)
            for record in CustodyRecord.inAdmissionOrder(cluster.custodians[0].records(cluster.ref(shard))) {
                try ledger.admit(record, id: record.id, now: cluster.now + 10_000_000, submitted: false)
            }
            ledgers.append(ledger)
        }
        if sharingFailures { ShardLedger.shareFailures(among: &ledgers) }
        return ledgers
    }

    @Test func aFailedCheckInOneShardVoidsWhatTheWorkerRanAloneInTheOthers() throws {
        // The sleeper across shards: trusted on passes in shard 0, Alice cheats alone on two units of shard 1 that
        // no draw checks, then cheats on a unit of shard 0 that its draw checks, and is outvoted there. Her results
        // run alone in shard 1 are voided too, and she is no longer trusted there. Before, they stood until a check
        // of hers in shard 1 failed, and a closing check there she happened to pass kept them for good.
        var cluster = try Self.twoShards()
        var time = try earnTrust(&cluster)
        let alone = [try cheatAloneInShard1(&cluster, at: time), try cheatAloneInShard1(&cluster, at: time + 10)]
        time += 20
        // Shard 0: a wrong output whose draw checks it; Bob and a fresh pair outvote her.
        let owners = cluster.owners(2)
        let lease = try #require(try cluster.lease(alice, network: 1, via: owners[0], at: time))
        let unit = try #require(lease.entries.first?.unit)
        let ownersOfUnit = cluster.owners(unit)
        let wrong = try Self.output(cluster, unit, right: false, custodian: ownersOfUnit[0], worker: alice, standing: lease.standing, checked: true)
        try cluster.submit(cluster.commit(alice, units: [unit], at: time + 1, outputs: { _ in wrong }), via: ownersOfUnit[0], at: time + 1)
        cluster.sync(at: time + 1)
        let check = try #require(try cluster.lease(bob, network: 2, via: ownersOfUnit[1], at: time + 1))
        try #require(check.entries.map(\.unit) == [unit])
        try cluster.submit(cluster.commit(bob, units: [unit], at: time + 2, outputs: Outputs.right), via: ownersOfUnit[1], at: time + 2)
        cluster.sync(at: time + 2)
        for alone in alone { #expect(cluster.verdict(alone, time: time + 2)?.state == .validated, "unit \(alone) before the check") }
        try cluster.submit(cluster.reveal(alice, units: [unit], at: time + 3, outputs: { _ in wrong }), via: ownersOfUnit[0], at: time + 3)
        try cluster.submit(cluster.reveal(bob, units: [unit], at: time + 3, outputs: Outputs.right), via: ownersOfUnit[1], at: time + 3)
        cluster.sync(at: time + 3)
        try freshPair(&cluster, unit, at: time + 4)
        let checked = try #require(cluster.verdict(unit, time: time + 6))
        #expect(checked.state == .validated && checked.invalid.contains { $0.worker == alice.publicKey })
        // Custodians walk a shard for failures when its job is next read, not when records come: her failure reached
        // them by merges, and nothing has walked shard 0 since. She asks at once for another unit of shard 1 (on a
        // copy, so the rest runs as before): the lease walks first and does not trust her. (Leasing without the
        // walk, it claimed standing 2: her two results run alone there, as if nothing had failed.)
        var attacked = cluster
        let retry = try attacked.lease(alice, network: 1, via: cluster.owners(20)[0], shard: 1, at: time + 6)
        #expect((retry?.standing ?? 0) < 2, "a lease right after her failed check claims standing \(retry?.standing ?? 0)")
        // Every custodian voids her results run alone in shard 1; the units take fresh replicas.
        for c in cluster.custodians.indices {
            for alone in alone {
                let verdict = try #require(cluster.verdict(alone, at: c, time: time + 7))
                #expect(verdict.state == .open, "custodian \(c), unit \(alone)")
                #expect(verdict.invalid.contains { $0.worker == alice.publicKey && $0.reason == ShardLedger.voided }, "\(verdict)")
                #expect(verdict.openSlots == 2)
            }
            // A ledger read directly holds the failures shared when its job was last read (`walkFailures`).
            cluster.custodians[c].walkFailures(cluster.manifest.id)
            let shard1 = try #require(cluster.custodians[c].ledgers[cluster.ref(1)])
            #expect(shard1.standing(of: alice.publicKey, at: time + 7, prior: 2) == 0)
            #expect(shard1.adaptiveTrace(of: alice.publicKey).hasPrefix("facts ssF"))
        }
        // A stranger re-verifying both shards voids the same units. Each shard's failures are its own.
        let stranger = try rebuiltShards(cluster, sharingFailures: true)
        #expect(stranger[0].ownFailures()[alice.publicKey]?.count == 1)
        #expect(stranger[1].ownFailures().isEmpty)
        for alone in alone { #expect(stranger[1].verdict(unit: alone, now: nil, equivalent: ==).state == .open, "unit \(alone)") }
        // Shard by shard, as before: the wrong outputs stand.
        let perShard = try rebuiltShards(cluster, sharingFailures: false)
        for alone in alone { #expect(perShard[1].verdict(unit: alone, now: nil, equivalent: ==).state == .validated, "unit \(alone)") }
    }
}
