import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony
@testable import ColonyWork

/// The adaptive tests over the real wire that spend most of their time waiting (a tenth of a lease period, evidence
/// lookups, a custodian's reveal grace, a vanished worker's silence): apart from `AdaptiveSwarmTests`, whose tests
/// spend theirs computing, so that the two serialized suites overlap their waits with the other's work.
@Suite(.serialized) struct AdaptiveSwarmWaitingTests {
    /// Four new keys: every pair shares the 2 units the cap allows long before anyone has the 10 valid results trust
    /// needs, and each worker was refused the others' units for a third worker, itself at the cap and refused too,
    /// until the leases were a lease period old (bench adaptive, 4 peers: 61 s with 60 s leases, 310 s for
    /// mersenne-10k). After a tenth of a lease period a draw now says which of them partners each unit. The wait
    /// is the fault: the job must be decided in half a lease period.
    @Test func fourNewKeysAtTheCapWithEachOtherDoNotWaitALeasePeriod() throws {
        try SwarmTestSupport.withSwarm("adaptive-cap") { swarm in
            var spec = AdaptiveSwarmTests.adaptiveSpec(units: 400)
            spec.leaseSeconds = 120
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
            let progress = swarm.waitUntilDecided(job, timeout: 60)
            try #require(progress?.validated == 400, "progress: \(String(describing: progress))")
            AdaptiveSwarmTests.expectRight(try AdaptiveSwarmTests.collect(job, on: swarm), validated: 400)
        }
    }

    @Test(arguments: ["looked up", "not looked up", "another publisher"])
    func trustEarnedInShardsNoCustodianOfTheNextJobKeepsCarriesThroughTheEvidenceKeys(how: String) throws {
        // Trust carries from job to job whoever keeps the shards. The replicated job is kept by peers 0–2 alone, the
        // adaptive one by peers 3–5, which keep nothing of the first: they find a worker's passed checks through its
        // evidence key, gather that job from its custodians and lease on the standing they count there (a custodian
        // counted a prior only from the shards it kept, and in a swarm of more than a few peers the custodians of a
        // new job's shard seldom keep any shard where a worker earned its trust). Alone in the job (the others
        // paused), the worker runs unit after unit once; without the lookups it is a new key there, held at the cap
        // of fresh units waiting on a verdict; so too when the first job is another publisher's (anyone can publish
        // a job of a kernel, with custodians and workers of its own, whose records show any pass). A peer that took
        // no part gathers the cited shards and agrees.
        try SwarmTestSupport.withSwarm("adaptive-evidence", configure: { options in
            options.peers = 6
            options.priorLookups = how != "not looked up"
        }) { swarm in
            let publisher = how == "another publisher" ? Identity(privateKey: Ed25519PrivateKey()) : nil
            var warm = AdaptiveSwarmTests.adaptiveSpec(units: 400)
            warm.redundancy.adaptive = false
            let first = try swarm.publish(
                spec: warm, kernelVersion: 1, units: try TallyKernel().units(for: warm.parameters), custodians: [0, 1, 2], publisher: publisher)
            try #require(swarm.waitUntilDecided(first, timeout: 300)?.validated == 400)
            let index = 1
            let worker = swarm.workers[index]
            let others = swarm.workers.indices.filter { $0 != index }
            for other in others { swarm.workers[other].pause() }
            let before = worker.snapshot.statistics.committed
            let spec = AdaptiveSwarmTests.adaptiveSpec(units: 400)
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), custodians: [3, 4, 5])
            // Until it has sealed 100 units: a new key holds 10. A lookup takes about half a second here, and one
            // that found nothing (the first job's custodians not yet announced) is tried again after 10 s.
            let deadline = Date() + (how == "looked up" ? 60 : 15)
            while worker.snapshot.statistics.committed - before < 100, Date() < deadline {
                swarm.waitForChange(until: min(deadline, Date() + 1))
            }
            let sealedAlone = worker.snapshot.statistics.committed - before
            for other in others { swarm.workers[other].resume() }
            #expect(swarm.waitUntilDecided(job, timeout: 300)?.validated == 400)
            let report = try AdaptiveSwarmTests.collect(job, on: swarm)
            AdaptiveSwarmTests.expectRight(report, validated: 400)
            let key = swarm.peers[index].identity.publicKey
            let single = report.verdicts.filter { $0.agreeing == [key] }.count
            print("\(how): the worker sealed \(sealedAlone) alone in the job; \(single) of its results validated alone")
            if how == "looked up" {
                #expect(sealedAlone >= 100)
                #expect(single >= 50)
            } else {
                #expect(sealedAlone <= spec.redundancy.trustAfter)
            }
        }
    }

    @Test func aPeekerSittingOnItsResultsIsRefusedLeasesOverTheWire() throws {
        // The peeker again, with leases of 120 s: each unit it keeps back waits four minutes for others. Once it could
        // have revealed one for `revealGrace` (30 s), the custodians refuse it "keeps a result back" over the wire;
        // the honest workers, checking its units and others', are never refused.
        try SwarmTestSupport.withSwarm("adaptive-sitting", configure: { $0.sleeperHonestUnits = .max }) { swarm in
            let index = try swarm.addPeer(behaviour: .peeker)
            _ = try AdaptiveSwarmTests.replicatedJob(units: 400, on: swarm)
            let peeker = swarm.workers[index]
            peeker.turn()
            let others = swarm.workers.indices.filter { $0 != index }
            for other in others { swarm.workers[other].pause() }
            let before = peeker.snapshot.statistics
            var spec = AdaptiveSwarmTests.adaptiveSpec(units: 512, minSpotCheck: 0.05)
            spec.leaseSeconds = 120
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
            var deadline = Date() + 60
            while peeker.snapshot.statistics.committed - before.committed < 200, Date() < deadline {
                swarm.waitForChange(until: min(deadline, Date() + 1))
            }
            for other in others { swarm.workers[other].resume() }
            // Refused when it next asks for units; but once the shard is decided it asks no more, and the others may
            // decide the shard within `revealGrace` of sealing the units it sits on (1 run in 4 here). Then it is
            // asked for it, with the peeker's key, over the wire, once that long has passed since the shard was
            // decided.
            deadline = Date() + 120
            var decided: Date?
            while peeker.snapshot.statistics.refused["keeps a result back"] == nil, Date() < deadline {
                if decided == nil, swarm.progress(of: job)?.done == true { decided = Date() }
                if let decided, Date() > decided + Double(ShardLedger.revealGrace) / 1000 + 2 { break }
                swarm.waitForChange(until: min(deadline, Date() + 1))
            }
            var refusal = peeker.snapshot.statistics.refused["keeps a result back"] == nil ? nil : "keeps a result back"
            if refusal == nil {
                let peer = swarm.peers[index]
                let member = try #require(peer.members(of: ShardRef(job: job, shard: 0)).first)
                let request = CustodyWire.leaseRequest(
                    peer.jobFields(job), job: job, shard: 0, count: 1, by: peer.identity, now: CustodyClock.now(), holding: [])
                do throws(ColonyRequestError) {
                    let reply = try peer.request(request, to: member.endpoint, timeout: 10)
                    refusal = "answered \(CustodyWire.op(reply) ?? "?")"
                } catch {
                    refusal = error.refusal?.reason ?? "\(error)"
                }
                print("the shard was decided before the peeker asked again; asked for it: \(refusal ?? "-")")
            }
            #expect(refusal == "keeps a result back", "refused \(peeker.snapshot.statistics.refused)")
            for other in others { #expect(swarm.workers[other].snapshot.statistics.refused["keeps a result back"] == nil) }
        }
    }

    @Test func aTrustedWorkerThatVanishesMidJobLosesNoUnit() throws {
        // A host that vanishes (kill -9, power cut) in an adaptive job: a worker trusted from a replicated job, and a
        // custodian of the job's shards, is gone with leases in flight, results sealed and not revealed, results run
        // alone and spot checks of its own results waiting for its reveal. Its leases expire; a checked seal it never
        // revealed is a result withheld from its check, so its run since its last pass is voided and computed again.
        // Every unit ends validated with the right output, in the custodians' view and in a stranger's.
        try SwarmTestSupport.withSwarm("adaptive-vanish", configure: { $0.peers = 5 }) { swarm in
            _ = try AdaptiveSwarmTests.replicatedJob(units: 400, on: swarm)
            let index = 4
            let victim = swarm.workers[index]
            let others = swarm.workers.indices.filter { $0 != index }
            for other in others { swarm.workers[other].pause() }
            let before = victim.snapshot.statistics
            let spec = AdaptiveSwarmTests.adaptiveSpec(units: 1200, minSpotCheck: 0.05)
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
            let deadline = Date() + 60
            while victim.snapshot.statistics.committed - before.committed < 300, Date() < deadline {
                swarm.waitForChange(until: min(deadline, Date() + 1))
            }
            let sealed = victim.snapshot.statistics.committed - before.committed
            let revealed = victim.snapshot.statistics.revealed - before.revealed
            swarm.crash(index)
            for other in others { swarm.workers[other].resume() }
            let progress = swarm.waitUntilDecided(job, timeout: 300)
            #expect(progress?.validated == 1200, "progress: \(String(describing: progress))")
            let report = try AdaptiveSwarmTests.collect(job, on: swarm)
            AdaptiveSwarmTests.expectRight(report, validated: 1200)
            // Its set changes too: whatever order they and the records reach a custodian in, it keeps them all.
            CustodyConvergenceTests.expectSameSetInAnyOrder(job, on: swarm)
            let gone = swarm.peers[index].identity.publicKey
            let counted = report.verdicts.filter { $0.agreeing.contains(gone) }.count
            let notCounted = report.verdicts.filter { $0.invalid.contains { $0.worker == gone } }.count
            print("the vanished worker sealed \(sealed) and revealed \(revealed) before it went; \(counted) of its results count, \(notCounted) do not")
            #expect(sealed > 0, "it vanished before sealing anything")
        }
    }
}
