import ColonyCore
import ColonyNet
import Foundation
import Testing

@testable import ColonyWork

/// The custody layer attacked as SECURITY.md's adversaries would, with records alone: forged authority, copied
/// results, records that arrive after a unit was decided, a corrupt custodian. Each attack is refused where records
/// are accepted (a custodian's merge) and again by a stranger re-verifying from the records.
@Suite struct CustodyAttackTests {
    let alice = Identity(privateKey: Ed25519PrivateKey())
    let bob = Identity(privateKey: Ed25519PrivateKey())
    let carol = Identity(privateKey: Ed25519PrivateKey())
    let dave = Identity(privateKey: Ed25519PrivateKey())

    /// The four units of shard 0 validated by three honest workers, each leased by the custodian owning the slot.
    func validated() throws -> CustodyCluster {
        var cluster = try CustodyCluster()
        let leases = try [(alice, 1, 0), (bob, 2, 1), (carol, 3, 2)].map { worker, network, via in
            (worker, via, try #require(try cluster.lease(worker, network: network, via: via, count: 4)).entries.map(\.unit))
        }
        for (worker, via, units) in leases { try cluster.submit(cluster.commit(worker, units: units, outputs: Outputs.right), via: via) }
        cluster.sync()
        for (worker, via, units) in leases { try cluster.submit(cluster.reveal(worker, units: units, outputs: Outputs.right), via: via) }
        cluster.sync()
        for unit in 0..<4 { #expect(cluster.verdict(unit)?.state == .validated) }
        return cluster
    }

    /// The attack the issue describes: three fresh keys each sign a lease for themselves, a commit and a reveal of a
    /// wrong output, and hand the nine records to a custodian as another custodian would (co_merge). Before the
    /// authority chain, merge accepted all nine and every verdict flipped.
    @Test func theForgedMergeAttackIsRefusedAndNoVerdictChanges() throws {
        var cluster = try validated()
        let units = [0, 1, 2, 3]
        let before = units.map { cluster.verdict($0) }
        var forged: [CustodyRecord] = []
        for (index, key) in (0..<3).map({ _ in Identity(privateKey: Ed25519PrivateKey()) }).enumerated() {
            forged.append(
                CustodyRecord(
                    kind: .lease, job: cluster.job, shard: 0, worker: key.publicKey, expires: cluster.now + 60_000,
                    network: [10, 9, UInt8(index), 0], entries: units.map { .init(unit: $0) }, time: cluster.now, signedBy: key))
            forged.append(cluster.commit(key, units: units, outputs: Outputs.wrong))
            forged.append(cluster.reveal(key, units: units, outputs: Outputs.wrong))
        }
        let added = cluster.custodians[0].merge(forged, now: cluster.now)
        #expect(added.records.isEmpty)
        #expect(cluster.custodians[0].rejected["not a custodian"] == 3)
        #expect(cluster.custodians[0].rejected["no lease"] == 6)
        for (unit, verdict) in zip(units, before) {
            #expect(cluster.verdict(unit) == verdict)
            #expect(cluster.verdict(unit)?.output == Outputs.right(unit))
        }
        // A stranger re-verifying the honest records plus the forged ones refuses the same nine.
        var ledger = ShardLedger(manifest: cluster.manifest, shard: 0)
        var refused = 0
        for record in CustodyRecord.inAdmissionOrder(cluster.custodians[0].records(cluster.ref()) + forged) {
            do { try ledger.admit(record, id: record.id, now: cluster.now, submitted: false) } catch { refused += 1 }
        }
        #expect(refused == 9)
        #expect(ledger.verdicts(now: nil, equivalent: { $0 == $1 }).prefix(4).allSatisfy { $0.output == Outputs.right($0.unit) })
    }

    /// A proposal to replace a silent member that too few co-signed (one could still reach it then) is proposed
    /// again once the others agree: the same change, and the co-signer signs it then. Before, the proposer refused to
    /// sign a second change to that epoch, even the same one, and the shard kept a vanished custodian for good
    /// (AdaptiveSwarmTests, vanish: 523 units open after 300 s).
    @Test func aProposalNotCosignedIsProposedAgainAndSignedOnceTheOthersAgree() throws {
        var cluster = try CustodyCluster()
        let ref = cluster.ref()
        let joining = CustodianMember(key: Identity(privateKey: Ed25519PrivateKey()).publicKey, endpoint: Endpoint(address: 0x0A00_0099, port: 7000))
        let leaving = cluster.keys[2].publicKey
        let first = try cluster.custodians[0].proposeChange(ref, leaving: leaving, joining: joining, now: cluster.now)
        // Custodian 1 still reaches the member: it does not co-sign, and nothing changes.
        #expect(throws: CustodyError.self) { try cluster.custodians[1].cosign(first) { _ in false } }
        // Later, with another newcomer on offer: the same change again, which 1 now co-signs, twice if asked twice.
        let other = CustodianMember(key: Identity(privateKey: Ed25519PrivateKey()).publicKey, endpoint: Endpoint(address: 0x0A00_009A, port: 7000))
        let again = try cluster.custodians[0].proposeChange(ref, leaving: leaving, joining: other, now: cluster.now + 10_000)
        #expect(again.unsignedValue() == first.unsignedValue())
        var signed = try cluster.custodians[1].cosign(again) { $0.key == leaving }
        signed = try cluster.custodians[1].cosign(signed) { $0.key == leaving }
        #expect(signed.signatures.count == 2)
        #expect(cluster.custodians[1].merge([], changes: [signed], now: cluster.now).changes.count == 1)
        // A change replacing another member, to the same epoch, it still does not sign or propose.
        var cluster2 = try CustodyCluster()
        _ = try cluster2.custodians[0].proposeChange(cluster2.ref(), leaving: cluster2.keys[2].publicKey, joining: joining, now: cluster2.now)
        #expect(throws: CustodyError.self) {
            try cluster2.custodians[0].proposeChange(cluster2.ref(), leaving: cluster2.keys[1].publicKey, joining: joining, now: cluster2.now)
        }
    }

    /// Set changes: signed by outsiders or by a minority of the set, they are refused; signed by a majority they
    /// are accepted, after which the member that left can no longer lease and the newcomer can.
    @Test func onlyAMajorityOfTheSetBeforeCanChangeIt() throws {
        var cluster = try CustodyCluster()
        let ref = cluster.ref()
        let newcomer = Identity(privateKey: Ed25519PrivateKey())
        let joining = CustodianMember(key: newcomer.publicKey, endpoint: Endpoint(address: 0x0A00_0099, port: 7000))
        let members = cluster.manifest.custody.members(ofShard: 0)
        let changed = members.map { $0.key == cluster.keys[2].publicKey ? joining : $0 }
        // Signed by outsiders (any number of fresh keys).
        var forged = CustodySetChange(job: cluster.job, shard: 0, epoch: 1, members: changed, time: cluster.now)
        for _ in 0..<5 { forged.sign(by: Identity(privateKey: Ed25519PrivateKey())) }
        // Signed by one member of three.
        var minority = CustodySetChange(job: cluster.job, shard: 0, epoch: 1, members: changed, time: cluster.now)
        minority.sign(by: cluster.keys[0])
        // Skipping an epoch.
        var skipping = CustodySetChange(job: cluster.job, shard: 0, epoch: 2, members: changed, time: cluster.now)
        for key in cluster.keys { skipping.sign(by: key) }
        let refused = cluster.custodians[1].merge([], changes: [forged, minority, skipping], now: cluster.now)
        #expect(refused.changes.isEmpty)
        #expect(cluster.custodians[1].rejected["bad authority"] == 2)
        #expect(cluster.custodians[1].rejected["unknown epoch"] == 1)
        #expect(cluster.custodians[1].changes(ref).isEmpty)

        // Custodian 0 proposes to replace custodian 2, which custodian 1 cannot reach; 1 co-signs.
        let proposal = try cluster.custodians[0].proposeChange(ref, leaving: cluster.keys[2].publicKey, joining: joining, now: cluster.now)
        // A custodian that can still reach the leaving one does not co-sign.
        #expect(throws: CustodyError.self) { try cluster.custodians[1].cosign(proposal) { _ in false } }
        let signed = try cluster.custodians[1].cosign(proposal) { $0.key == cluster.keys[2].publicKey }
        // Nor does it sign a second, different change to the same epoch.
        let other = CustodySetChange(job: cluster.job, shard: 0, epoch: 1, members: members.map { $0.key == cluster.keys[0].publicKey ? joining : $0 })
        #expect(throws: CustodyError.self) { try cluster.custodians[1].cosign(other) { _ in true } }
        #expect(cluster.custodians[1].merge([], changes: [signed], now: cluster.now).changes.count == 1)
        #expect(!cluster.custodians[1].isCustodian(ref) == false)

        // The member that left leases under the new epoch: refused. Under the old epoch it still could, as when it
        // was a member; the newcomer's lease under epoch 1 counts.
        let late = CustodyRecord(
            kind: .lease, job: cluster.job, shard: 0, worker: alice.publicKey, expires: cluster.now + 60_000, epoch: 1,
            network: [10, 1, 1, 0], entries: [.init(unit: 0)], time: cluster.now, signedBy: cluster.keys[2])
        #expect(cluster.custodians[1].merge([late], now: cluster.now).records.isEmpty)
        #expect(cluster.custodians[1].rejected["not a custodian"] == 1)
        let fresh = CustodyRecord(
            kind: .lease, job: cluster.job, shard: 0, worker: alice.publicKey, expires: cluster.now + 60_000, epoch: 1,
            network: [10, 1, 1, 0], entries: [.init(unit: 0)], time: cluster.now, signedBy: newcomer)
        #expect(cluster.custodians[1].merge([fresh], now: cluster.now).records.count == 1)
    }

    /// A copycat that reads an honest result before its own seal (from a leak: honest custodians serve no undecided
    /// result) and seals it: its seal came after the reveal it copies, so the two never pair, and it is not counted
    /// as agreeing when the unit is decided.
    @Test func aSealMadeAfterTheRevealItCopiesNeverCounts() throws {
        var cluster = try CustodyCluster(maxAttempts: 6)
        let copycat = carol
        let t = cluster.now
        _ = try #require(try cluster.lease(alice, network: 1, via: 0))
        _ = try #require(try cluster.lease(copycat, network: 3, via: 1))
        try cluster.submit(cluster.commit(alice, units: [0], at: t + 1, outputs: Outputs.right), via: 0, at: t + 1)
        // Alice reveals alone (her lease was ending).
        try cluster.submit(cluster.reveal(alice, units: [0], at: t + 2, outputs: Outputs.right), via: 0, at: t + 2)
        cluster.sync(at: t + 2)
        // Honest custodians never show an undecided result to anyone but each other.
        #expect(cluster.custodians[0].publicRecords(cluster.ref(), now: t + 2).allSatisfy { $0.kind != .reveal })
        // The copycat got it anyway, and seals and reveals it.
        try cluster.submit(cluster.commit(copycat, units: [0], at: t + 3, outputs: Outputs.right), via: 1, at: t + 3)
        try cluster.submit(cluster.reveal(copycat, units: [0], at: t + 4, outputs: Outputs.right), via: 1, at: t + 4)
        cluster.sync(at: t + 4)
        #expect(cluster.verdict(0, time: t + 4)?.state == .open)
        // Two honest workers finish the unit; the copycat is not among those who agree.
        cluster.sync(at: t + 130_000)
        let (x, y) = (cluster.owners(0)[0], cluster.owners(0)[1])
        _ = try #require(try cluster.lease(bob, network: 2, via: x, at: t + 130_000))
        _ = try #require(try cluster.lease(dave, network: 4, via: y, at: t + 130_000))
        try cluster.submit(cluster.commit(bob, units: [0], at: t + 130_001, outputs: Outputs.right), via: x, at: t + 130_001)
        try cluster.submit(cluster.commit(dave, units: [0], at: t + 130_001, outputs: Outputs.right), via: y, at: t + 130_001)
        cluster.sync(at: t + 130_001)
        try cluster.submit(cluster.reveal(bob, units: [0], at: t + 130_002, outputs: Outputs.right), via: x, at: t + 130_002)
        try cluster.submit(cluster.reveal(dave, units: [0], at: t + 130_002, outputs: Outputs.right), via: y, at: t + 130_002)
        cluster.sync(at: t + 130_002)
        let verdict = try #require(cluster.verdict(0, time: t + 130_002))
        #expect(verdict.state == .validated)
        #expect(Set(verdict.agreeing) == [alice.publicKey, bob.publicKey, dave.publicKey])
        #expect(verdict.invalid.contains { $0.worker == copycat.publicKey && $0.reason.contains("after") })
    }

    /// Alice and Bob leased unit 0 by its two slot owners (returned as x and y); Alice seals at t + 1, Bob at t + 2.
    func sealInTurn(_ cluster: inout CustodyCluster) throws -> (t: Int64, x: Int, y: Int) {
        let t = cluster.now
        let (x, y) = (cluster.owners(0)[0], cluster.owners(0)[1])
        _ = try #require(try cluster.lease(alice, network: 1, via: x))
        _ = try #require(try cluster.lease(bob, network: 2, via: y))
        try cluster.submit(cluster.commit(alice, units: [0], at: t + 1, outputs: Outputs.right), via: x, at: t + 1)
        cluster.sync(at: t + 1)
        try cluster.submit(cluster.commit(bob, units: [0], at: t + 2, outputs: Outputs.right), via: y, at: t + 2)
        return (t, x, y)
    }

    /// Unit 0 validated by Alice and Bob together.
    func expectPaired(_ cluster: CustodyCluster, at time: Int64) throws {
        let verdict = try #require(cluster.verdict(0, time: time))
        #expect(verdict.state == .validated)
        #expect(Set(verdict.agreeing) == [alice.publicKey, bob.publicKey])
    }

    /// A worker whose seal completes a quorum reveals at once, often in the same millisecond: its reveal pairs
    /// with the earlier seal (issue 12's netlab stall: three honest reveals, no pair, no worker left to lease).
    @Test func aSealAndItsRevealInTheSameMillisecondPairWithAnEarlierSeal() throws {
        var cluster = try CustodyCluster(maxAttempts: 6)
        let (t, x, y) = try sealInTurn(&cluster)
        try cluster.submit(cluster.reveal(bob, units: [0], at: t + 2, outputs: Outputs.right), via: y, at: t + 2)
        cluster.sync(at: t + 2)
        try cluster.submit(cluster.reveal(alice, units: [0], at: t + 3, outputs: Outputs.right), via: x, at: t + 3)
        cluster.sync(at: t + 3)
        try expectPaired(cluster, at: t + 3)
    }

    /// The mirror of the case above (CI netlab nat-only, 2026-12-04: 30 of 31 units validated after 5 minutes): Alice
    /// sealed first; Bob's seal completed the quorum, and Alice, told so at once, revealed in the millisecond Bob's
    /// seal was stamped. The two must pair: with a result from each of the job's only two networks, no third
    /// replica could ever be leased.
    @Test func aSealInTheMillisecondOfAnotherReplicasRevealPairsWithIt() throws {
        var cluster = try CustodyCluster(maxAttempts: 6)
        let (t, x, y) = try sealInTurn(&cluster)
        cluster.sync(at: t + 2)
        #expect(try #require(cluster.custodians[x].ledgers[cluster.ref()]).partners(of: alice.publicKey, unit: 0, now: t + 2) == 2)
        try cluster.submit(cluster.reveal(alice, units: [0], at: t + 2, outputs: Outputs.right), via: x, at: t + 2)
        try cluster.submit(cluster.reveal(bob, units: [0], at: t + 3, outputs: Outputs.right), via: y, at: t + 3)
        cluster.sync(at: t + 3)
        try expectPaired(cluster, at: t + 3)
    }

    /// Netlab (issue 12): two workers behind one NAT were leased the same unit at once by two custodians (neither
    /// knew of the other's lease), both sealed, and the unit waited ten minutes for partners that could never
    /// pair. Replicas in flight count by what could pair: a third worker elsewhere gets the unit and it validates.
    @Test func twoSealsFromOneNetworkDoNotHoldTheUnitsSlots() throws {
        var cluster = try CustodyCluster(maxAttempts: 6)
        let t = cluster.now
        let (x, y) = (cluster.owners(0)[0], cluster.owners(0)[1])
        _ = try #require(try cluster.lease(alice, network: 7, via: x))
        _ = try #require(try cluster.lease(bob, network: 7, via: y))
        try cluster.submit(cluster.commit(alice, units: [0], at: t + 1, outputs: Outputs.right), via: x, at: t + 1)
        try cluster.submit(cluster.commit(bob, units: [0], at: t + 2, outputs: Outputs.right), via: y, at: t + 2)
        cluster.sync(at: t + 3)
        let waiting = try #require(cluster.verdict(0, at: x, time: t + 3))
        #expect(waiting.openSlots == 1, "two seals from one network are one replica: \(waiting)")
        // A worker on another network gets the unit from a custodian with a free slot, and the quorum forms.
        var free: Int?
        for via in [x, y] where free == nil {
            if let lease = try cluster.lease(carol, network: 8, via: via, at: t + 4) {
                #expect(lease.entries.map(\.unit) == [0], "units with a replica in flight come first")
                free = via
            }
        }
        let via = try #require(free, "no custodian would lease the unit to a worker on another network")
        try cluster.submit(cluster.commit(carol, units: [0], at: t + 5, outputs: Outputs.right), via: via, at: t + 5)
        for (worker, custodian) in [(alice, x), (bob, y), (carol, via)] {
            try cluster.submit(cluster.reveal(worker, units: [0], at: t + 6, outputs: Outputs.right), via: custodian, at: t + 6)
        }
        cluster.sync(at: t + 7)
        let verdict = try #require(cluster.verdict(0, time: t + 7))
        #expect(verdict.state == .validated)
        #expect(verdict.agreeing.contains(carol.publicKey))
    }

    /// Netlab kill-custodian (issue 12): a worker sealed a unit and died. Its seal counted as a partner for good, so
    /// every later worker revealed as soon as it sealed, alone, and each result stood unpaired until no live worker
    /// was left to lease the unit. A sealer yet to reveal is a partner while it is in flight only.
    @Test func aDeadSealerIsNoPartnerOnceItsLeaseAndWaitAreOver() throws {
        var cluster = try CustodyCluster()
        let t = cluster.now
        let (x, y) = (cluster.owners(0)[0], cluster.owners(0)[1])
        _ = try #require(try cluster.lease(alice, network: 1, via: x))
        try cluster.submit(cluster.commit(alice, units: [0], at: t + 1, outputs: Outputs.right), via: x, at: t + 1)
        // Alice dies here. Bob is leased the unit by the other owner and seals while her lease is live: a partner.
        _ = try #require(try cluster.lease(bob, network: 2, via: y, at: t + 2))
        try cluster.submit(cluster.commit(bob, units: [0], at: t + 3, outputs: Outputs.right), via: y, at: t + 3)
        cluster.sync(at: t + 4)
        #expect(cluster.custodians[y].partners(cluster.ref(), worker: bob.publicKey, units: [0], now: t + 4)[0] == 2)
        // Her lease (60 s) and the wait for partners after it (a lease more) are over: Bob waits for a real partner.
        let after = t + 2 * 60_000 + 1
        #expect(cluster.custodians[y].partners(cluster.ref(), worker: bob.publicKey, units: [0], now: after)[0] == 1)
        // Re-verification without a clock still sees every seal (it decides nothing about validity).
        #expect(cluster.custodians[y].partners(cluster.ref(), worker: bob.publicKey, units: [0])[0] == 2)
    }

    /// Issue 12: with one reachable node and every worker behind a NAT, the publisher signs a set of one custodian;
    /// its leases then vouch for the whole quorum, and networks must still differ.
    @Test func aSetSmallerThanTheQuorumSharesItButNetworksStillCount() throws {
        var cluster = try CustodyCluster(custodians: 1)
        let t = cluster.now
        _ = try #require(try cluster.lease(alice, network: 1, via: 0))
        _ = try #require(try cluster.lease(bob, network: 2, via: 0))
        for worker in [alice, bob] {
            try cluster.submit(cluster.commit(worker, units: [0], at: t + 1, outputs: Outputs.right), via: 0, at: t + 1)
        }
        // Each worker learns it has a partner, so both reveal.
        let partners = cluster.custodians[0].partners(cluster.ref(), worker: alice.publicKey, units: [0])
        #expect(partners[0] == 2, "\(partners)")
        for worker in [alice, bob] {
            try cluster.submit(cluster.reveal(worker, units: [0], at: t + 2, outputs: Outputs.right), via: 0, at: t + 2)
        }
        #expect(cluster.verdict(0, time: t + 2)?.state == .validated)
        // Two replicas from one network do not make a quorum, whatever the set.
        var shared = try CustodyCluster(custodians: 1)
        let s = shared.now
        _ = try #require(try shared.lease(alice, network: 3, via: 0))
        #expect(try shared.lease(bob, network: 3, via: 0)?.entries.map(\.unit) != [0], "a second live lease to the same network")
        let three = Identity(privateKey: Ed25519PrivateKey())
        let forged = CustodyRecord(
            kind: .lease, job: shared.job, shard: 0, worker: three.publicKey, expires: s + 60_000,
            network: [10, 1, 3, 0], entries: [.init(unit: 0)], time: s, signedBy: shared.keys[0])
        // A lease the custodian signed (as a corrupt or confused one might) to a third worker on that network.
        _ = shared.custodians[0].merge([forged], now: s)
        for worker in [alice, three] {
            try shared.submit(shared.commit(worker, units: [0], at: s + 1, outputs: Outputs.right), via: 0, at: s + 1)
            try shared.submit(shared.reveal(worker, units: [0], at: s + 2, outputs: Outputs.right), via: 0, at: s + 2)
        }
        #expect(shared.verdict(0, time: s + 2)?.state != .validated)
    }

    /// Finality: once validated, records that colluders and one corrupt custodian can make (leases to friends on
    /// many networks, commits and reveals of another output) do not change the verdict.
    @Test func aValidatedVerdictStandsAgainstEveryLaterRecord() throws {
        var cluster = try validated()
        let corrupt = cluster.keys[2]
        var late: [CustodyRecord] = []
        let friends = (0..<5).map { _ in Identity(privateKey: Ed25519PrivateKey()) }
        for (index, friend) in friends.enumerated() {
            late.append(
                CustodyRecord(
                    kind: .lease, job: cluster.job, shard: 0, worker: friend.publicKey, expires: cluster.now + 60_000,
                    network: [10, 8, UInt8(index), 0], entries: [.init(unit: 0)], time: cluster.now, signedBy: corrupt))
            late.append(cluster.commit(friend, units: [0], outputs: Outputs.wrong))
            late.append(cluster.reveal(friend, units: [0], outputs: Outputs.wrong))
        }
        // A worker handing a seal to an honest custodian after the unit was decided is refused.
        #expect(throws: CustodyError.self) { try cluster.submit(late[1], via: 0) }
        // Merged as another custodian would hand them over, they are kept (they are well-formed) but count for
        // one custodian only.
        _ = cluster.custodians[0].merge(late, now: cluster.now)
        for at in 0..<3 {
            let verdict = try #require(cluster.verdict(0, at: at))
            #expect(verdict.state == .validated)
            #expect(verdict.output == Outputs.right(0))
        }
        #expect(cluster.verdict(0)?.invalid.count == 5)
    }

    /// One corrupt custodian per shard, alone: it leases to friends on many networks who all return one agreed wrong
    /// output, and cannot validate it, nor use up the unit's attempts; rounds move the unit's slots to the honest
    /// custodians, whose workers validate it.
    @Test func aCorruptCustodianAloneCanNeitherValidateNorFailAUnit() throws {
        var cluster = try CustodyCluster(maxAttempts: 10)
        let corrupt = 2
        var records: [CustodyRecord] = []
        for index in 0..<10 {
            let friend = Identity(privateKey: Ed25519PrivateKey())
            records.append(
                CustodyRecord(
                    kind: .lease, job: cluster.job, shard: 0, worker: friend.publicKey, expires: cluster.now + 60_000,
                    network: [10, 7, UInt8(index), 0], entries: [.init(unit: 0)], time: cluster.now, signedBy: cluster.keys[corrupt]))
            records.append(cluster.commit(friend, units: [0], outputs: Outputs.wrong))
            records.append(cluster.reveal(friend, units: [0], at: cluster.now + 100, outputs: Outputs.wrong))
        }
        _ = cluster.custodians[0].merge(records, now: cluster.now)
        cluster.sync()
        var verdict = try #require(cluster.verdict(0))
        #expect(verdict.state == .open)
        // Its friends count for its share of the attempts only.
        #expect(verdict.attempts == cluster.manifest.policy.attemptsPerCustodian(custodians: 3))
        // Honest custodians lease to honest workers whenever they own the unit's slots; the corrupt one leases to
        // nobody honest. Within the attempts left, a round comes whose slots are both honest.
        var time = cluster.now + 1_000
        var network = 1
        while verdict.state == .open {
            let owners = cluster.owners(0)
            let honest = owners.filter { $0 != corrupt }
            #expect(verdict.attempts < 10, "the unit ran out of attempts")
            guard verdict.attempts < 10 else { break }
            var leased: [(Identity, Int)] = []
            for owner in honest {
                let worker = Identity(privateKey: Ed25519PrivateKey())
                network += 1
                if try cluster.lease(worker, network: network, via: owner, at: time) != nil { leased.append((worker, owner)) }
            }
            try cluster.sealThenReveal(leased, unit: 0, at: time)
            time += 61_000  // leases that found no partner end
            verdict = try #require(cluster.verdict(0, time: time))
        }
        #expect(verdict.state == .validated)
        #expect(verdict.output == Outputs.right(0))
        #expect(!verdict.custodians.contains(cluster.keys[corrupt].publicKey))
    }

    @Test func aBackdatedRevealCannotMakeAWaitingWorkerLoseItsResult() throws {
        // A worker whose partner's reveal is `revealGrace` old is no longer waited for (`UnitRecords.sitsOnResult`),
        // and one sitting on a result is leased nothing more. Bob, Alice's partner on unit 0, turns that on her: he
        // seals and reveals 40 s after she sealed, stamping both just after her seal (within the clock slack), so
        // that his reveal looks 37 s old and Alice looks as if she sat on hers. What he gains: nothing. Alice,
        // asking how her seal stands, is told to reveal; her result counts in the quorum, no failed or unanswered
        // check is hers, and she is leased on.
        var cluster = try CustodyCluster()
        let time = cluster.now
        _ = try #require(try cluster.lease(alice, network: 1, via: 0, at: time))
        _ = try #require(try cluster.lease(bob, network: 2, via: 1, at: time))
        cluster.sync(at: time)
        try cluster.submit(cluster.commit(alice, units: [0], at: time + 1, outputs: Outputs.right), via: 0, at: time + 1)
        cluster.sync(at: time + 1)
        let late = time + 40_000
        try cluster.submit(cluster.commit(bob, units: [0], at: time + 2, outputs: Outputs.right), via: 1, at: late)
        try cluster.submit(cluster.reveal(bob, units: [0], at: time + 3, outputs: Outputs.right), via: 1, at: late)
        cluster.sync(at: late)
        let ledger = try #require(cluster.custodians[0].ledgers[cluster.ref()])
        // The backdating works as far as it goes: Alice is no longer in flight.
        #expect(!ledger.inFlight(0, now: late).contains(Who(alice.publicKey)))
        // Asking, she is told her quorum is complete, and reveals.
        #expect(ledger.partners(of: alice.publicKey, unit: 0, now: late) == 2)
        try cluster.submit(cluster.reveal(alice, units: [0], at: late + 250, outputs: Outputs.right), via: 0, at: late + 250)
        cluster.sync(at: late + 250)
        let verdict = try #require(cluster.verdict(0, time: late + 250))
        #expect(verdict.state == .validated)
        #expect(verdict.agreeing.contains(alice.publicKey) && verdict.invalid.isEmpty)
        #expect(try cluster.lease(alice, network: 1, via: 0, at: late + 500) != nil)
        #expect(cluster.custodians[0].rejected["keeps a result back"] == nil)
    }
}
