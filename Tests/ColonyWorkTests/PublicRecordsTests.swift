import ColonyCore
import Foundation
import Testing

@testable import ColonyWork

/// What custodians show an observer while their views of a shard differ: each withholds the reveals naming a unit
/// open in its own view (outputs of undecided units could be copied), so the union of what they show can hold less
/// than the union of their records until each has them all. `LocalSwarm.waitUntilAgreed` waits for that before an
/// observer collects (bench adaptive found fewer units validated than the custodians in 1 run of about 300).
struct PublicRecordsTests {
    let alice = Identity(privateKey: Ed25519PrivateKey())
    let bob = Identity(privateKey: Ed25519PrivateKey())

    /// The units validated in a ledger built, as an observer builds it, from what each custodian shows.
    static func observed(_ cluster: CustodyCluster, at time: Int64) -> Int {
        var ledger = ShardLedger(manifest: cluster.manifest, shard: 0)
        for custodian in cluster.custodians {
            for record in CustodyRecord.inAdmissionOrder(custodian.publicRecords(cluster.ref(), now: time)) {
                _ = try? ledger.admit(record, id: record.id, now: time, submitted: false, equivalent: { $0 == $1 })
            }
        }
        return ledger.verdicts(now: time, equivalent: { $0 == $1 }).filter { $0.state == .validated }.count
    }

    @Test func aRevealNamingTwoUnitsEachOpenToOneCustodianIsShownByNeitherUntilTheyAgree() throws {
        var cluster = try CustodyCluster(units: 2, shard: 2, maxAttempts: 6)
        let t = cluster.now
        // Both workers lease both units, each unit from a custodian that owns one of its slots.
        for (worker, network) in [(alice, 1), (bob, 2)] {
            for unit in 0..<2 {
                let others = Set(0..<2).subtracting([unit])
                let leased = cluster.custodians.indices.contains { c in
                    (try? cluster.lease(worker, network: network, via: c, excluding: others)) != nil
                }
                #expect(leased)
                cluster.sync(at: t)
            }
        }
        try cluster.submit(cluster.commit(alice, units: [0, 1], at: t + 1, outputs: Outputs.right), via: 0, at: t + 1)
        try cluster.submit(cluster.commit(bob, units: [0, 1], at: t + 1, outputs: Outputs.right), via: 1, at: t + 1)
        cluster.sync(at: t + 1)
        // Alice reveals both units in one record, which every custodian gets.
        try cluster.submit(cluster.reveal(alice, units: [0, 1], at: t + 2, outputs: Outputs.right), via: 0, at: t + 2)
        cluster.sync(at: t + 2)
        // Bob reveals unit 0 to custodian 0 and unit 1 to custodian 1, and they have not passed them on yet.
        try cluster.submit(cluster.reveal(bob, units: [0], at: t + 3, outputs: Outputs.right), via: 0, at: t + 3)
        try cluster.submit(cluster.reveal(bob, units: [1], at: t + 3, outputs: Outputs.right), via: 1, at: t + 3)
        #expect(cluster.verdict(0, at: 0, time: t + 3)?.state == .validated)
        #expect(cluster.verdict(1, at: 0, time: t + 3)?.state == .open)
        #expect(cluster.verdict(0, at: 1, time: t + 3)?.state == .open)
        #expect(cluster.verdict(1, at: 1, time: t + 3)?.state == .validated)
        // Between them both units are decided, but each withholds Alice's reveal: an observer finds neither validated.
        #expect(Self.observed(cluster, at: t + 3) == 0)
        // Once each has every record, both are shown.
        cluster.sync(at: t + 3)
        #expect(Self.observed(cluster, at: t + 3) == 2)
    }
}
