import ColonyCore
import Foundation
import Testing

@testable import ColonyWork

/// A worker's evidence and standing from custody records (issue 14, Evidence, Reputation, Credit).
@Suite("Worker evidence") struct WorkerEvidenceTests {
    let alice = Identity(privateKey: Ed25519PrivateKey())
    let bob = Identity(privateKey: Ed25519PrivateKey())
    let carol = Identity(privateKey: Ed25519PrivateKey())
    let dave = Identity(privateKey: Ed25519PrivateKey())

    /// Unit 0: Alice right, Bob wrong, then Carol and Dave right, so the unit validates with Bob outvoted
    /// (`CustodyTests.aCheaterIsOutvotedAndCounted`).
    func outvotedCheater(bobRevealAt: Int64? = nil) throws -> CustodyCluster {
        var cluster = try CustodyCluster()
        try cluster.compute(alice, network: 1, via: 0, units: [0], outputs: Outputs.right)
        try cluster.compute(bob, network: 2, via: 1, units: [0], outputs: Outputs.wrong, revealAt: bobRevealAt)
        cluster.sync()
        let (x, y) = (cluster.owners(0)[0], cluster.owners(0)[1])
        _ = try #require(try cluster.lease(carol, network: 3, via: x))
        _ = try #require(try cluster.lease(dave, network: 4, via: y))
        try cluster.submit(cluster.commit(carol, units: [0], at: cluster.now + 10, outputs: Outputs.right), via: x)
        try cluster.submit(cluster.commit(dave, units: [0], at: cluster.now + 10, outputs: Outputs.right), via: y)
        cluster.sync()
        try cluster.submit(cluster.reveal(carol, units: [0], at: cluster.now + 20, outputs: Outputs.right), via: x)
        try cluster.submit(cluster.reveal(dave, units: [0], at: cluster.now + 20, outputs: Outputs.right), via: y)
        cluster.sync()
        return cluster
    }

    func evidence(_ cluster: CustodyCluster, at custodian: Int = 0, now: Int64? = nil) throws -> [Ed25519PublicKey: [EvidenceFact]] {
        let ledger = try #require(cluster.custodians[custodian].ledgers[cluster.ref()])
        return ledger.evidence(now: now, equivalent: { $0 == $1 }, work: { _, output in Double(output.count) * 10 })
    }

    @Test("the quorum's members have a valid fact with the unit's work, the outvoted one an invalid fact")
    func validAndInvalid() throws {
        let cluster = try outvotedCheater()
        let facts = try evidence(cluster, now: cluster.now + 30)
        for worker in [alice, carol, dave] {
            #expect(facts[worker.publicKey]?.map(\.kind) == [.valid])
            #expect(facts[worker.publicKey]?.first?.work == 20)   // 2 output bytes × 10
        }
        let bobs = try #require(facts[bob.publicKey])
        #expect(bobs.map(\.kind) == [.invalid])
        #expect(bobs.first?.detail == "disagrees with the quorum")
    }

    @Test("two custodians derive the same evidence and standings from their own copies of the records")
    func independentCustodiansAgree() throws {
        let cluster = try outvotedCheater()
        let first = WorkerStanding.standings([try evidence(cluster, at: 0)])
        let second = WorkerStanding.standings([try evidence(cluster, at: 2)])
        #expect(first == second)
        #expect(first[alice.publicKey]?.credit == ["units": 20])
        #expect(first[bob.publicKey] == {
            var standing = WorkerStanding()
            standing.invalid = 1
            return standing
        }())
    }

    @Test("an error is a fact against the worker; a lease given back is not")
    func errorsAndGiveBacks() throws {
        var cluster = try CustodyCluster()
        let lease = try #require(try cluster.lease(alice, network: 1, via: 0, count: 2))
        let units = lease.entries.map(\.unit)
        try cluster.submit(
            CustodyRecord(
                kind: .error, job: cluster.job, shard: 0, worker: alice.publicKey,
                entries: [
                    .init(unit: units[0], data: Array("kernel error: trap".utf8)),
                    .init(unit: units[1], data: CustodyRecord.releaseReason(of: lease.id)),
                ], time: cluster.now + 1, signedBy: alice), via: 0)
        let facts = try #require(try evidence(cluster, now: cluster.now + 1_000_000)[alice.publicKey])
        #expect(facts.map(\.kind) == [.error])
        #expect(facts.first?.unit == units[0] && facts.first?.detail == "kernel error: trap")
    }

    @Test("a lease that ends with neither result nor error is an expired fact, once it has ended")
    func expiredLeases() throws {
        var cluster = try CustodyCluster()
        let lease = try #require(try cluster.lease(alice, network: 1, via: 0))
        #expect(try evidence(cluster, now: lease.expires - 1)[alice.publicKey] == nil)
        let facts = try #require(try evidence(cluster, now: lease.expires)[alice.publicKey])
        #expect(facts.map(\.kind) == [.expired])
        #expect(facts.first?.leased == lease.time)
        // Re-verified after the fact (no clock), every unanswered lease has ended.
        #expect(try evidence(cluster, now: nil)[alice.publicKey]?.map(\.kind) == [.expired])
    }

    static func fact(_ kind: EvidenceFact.Kind, at time: Int64, unit: Int = 0) -> EvidenceFact {
        EvidenceFact(kind: kind, job: SHA256.hash([1]), unit: unit, leased: time, work: kind == .valid ? 3 : 0)
    }

    @Test("consecutive valid results count up; an invalid result, an error or an expiry sets them to zero")
    func consecutiveValid() {
        let history: [EvidenceFact] =
            (0..<12).map { Self.fact(.valid, at: Int64($0), unit: $0) } + [Self.fact(.invalid, at: 12, unit: 12)]
            + (13..<16).map { Self.fact(.valid, at: Int64($0), unit: $0) }
        let standing = WorkerStanding(history)
        #expect(standing.consecutiveValid == 3 && standing.valid == 15 && standing.invalid == 1)
        #expect(standing.credit == ["units": 45])
        for breaker in [EvidenceFact.Kind.error, .expired, .invalid] {
            let broken = WorkerStanding(history + [Self.fact(breaker, at: 100, unit: 100)])
            #expect(broken.consecutiveValid == 0, "\(breaker)")
        }
        // A key with no evidence (a Sybil's new one) stands at zero.
        #expect(WorkerStanding([]) == WorkerStanding())
    }

    @Test("the standing does not depend on the order facts arrive in, nor on a fact given twice")
    func orderIndependent() {
        let history: [EvidenceFact] = (0..<20).map {
            Self.fact($0 == 7 ? .invalid : .valid, at: Int64($0 * 1000), unit: $0)
        }
        var generator = SystemRandomNumberGenerator()
        let expected = WorkerStanding(history)
        #expect(expected.consecutiveValid == 12)
        for _ in 0..<20 {
            #expect(WorkerStanding(history.shuffled(using: &generator) + history.prefix(3)) == expected)
        }
    }

    @Test("the order is the custodian-signed lease time, so back-dating its own reveal cannot hide a bad result early")
    func leaseTimeOrders() throws {
        // Bob's wrong reveal carries an early time of his choosing; the lease Custodian 1 signed says when it was.
        let cluster = try outvotedCheater(bobRevealAt: 1_800_000_000_000 - 50_000)   // 50 s before the cluster clock
        let ledger = try #require(cluster.custodians[0].ledgers[cluster.ref()])
        let lease = try #require(
            ledger.sortedRecords.first { $0.kind == .lease && $0.worker == bob.publicKey })
        let bobs = try #require(ledger.evidence(now: nil, equivalent: { $0 == $1 })[bob.publicKey])
        #expect(bobs.map(\.kind) == [.invalid])
        #expect(bobs.allSatisfy { $0.leased == lease.time })
    }
}
