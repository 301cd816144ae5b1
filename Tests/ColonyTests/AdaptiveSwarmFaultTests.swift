import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony
@testable import ColonyWork

/// Adaptive replication over the real wire (issue 14) against a vanishing host and a sleeper on a kernel with a check,
/// apart from the serialized `AdaptiveSwarmTests`, the critical path of `swift test` (664 s in a clean-clone CI run, the
/// whole run): serialized among themselves, they run beside it. Much of their time is a wait on the clock (leases to
/// expire, workers paused until another has sealed enough) that overlaps that suite's work. They took 57 s and 77 s
/// there.
@Suite(.serialized) struct AdaptiveSwarmFaultTests {
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

    @Test(arguments: [true, false])
    func aSleeperWhoseKernelHasACheckHasNoWrongResultAcceptedAloneEvenForAMoment(verifyAlone: Bool) throws {
        // A sleeper trusted from a replicated job turns, on a kernel that has a cheap check. Spot checks and closing
        // checks catch it in the end whatever the kernel; with the check, custodians refute each wrong result it
        // runs alone as it comes in, so none stands validated for a moment (a publisher collecting results midway,
        // or a job page, would show it). Watched through the custodians' own view while the job runs; with the check
        // off (the spec says so) the watch sees the sleeper's wrong results standing.
        try SwarmTestSupport.withSwarm("adaptive-checked", configure: { options in
            options.peers = 5
            options.registry = KernelRegistry([TallyKernel.self, CheckedTallyKernel.self])
            options.sleeperHonestUnits = .max
            // Every peer keeps every shard: a custodian counts a prior standing only from the shards it keeps, and
            // the sleeper, working in one shard of the replicated job, was trusted by none of the adaptive job's
            // custodians when none of them kept it (the check then had nothing run alone to refute).
            options.custodians = 6
        }) { swarm in
            let index = try swarm.addPeer(behaviour: .sleeper)
            let key = swarm.peers[index].identity.publicKey
            // Replicated warm-up jobs until the sleeper is trusted at every peer, a custodian of the next job: joining
            // last, it took only 7 of one job's 400 units in a CI run (its facts there: 7 passed checks and nothing
            // else), and, trusted by nobody, ran nothing alone for the check to refute. At most three.
            var warm: Set<JobID> = []
            var priors: [Int] = []
            repeat {
                warm.insert(try AdaptiveSwarmTests.replicatedJob(units: 400, on: swarm, kernel: CheckedTallyKernel.name))
                priors = swarm.peers.map { peer in
                    let checks = peer.custody.withLock { $0.ledgers.filter { warm.contains($0.key.job) }.values.flatMap { $0.checks(of: key) } }
                    return ShardLedger.priorStanding(checks, at: CustodyClock.now())
                }
            } while priors.min() ?? 0 < AdaptiveSwarmTests.adaptiveSpec(units: 1).redundancy.trustAfter && warm.count < 3
            // Its facts in the warm-up jobs' shards (c checked, f failed, e error, u unanswered): which reset its
            // prior, when it is short.
            let warmFacts = swarm.peers[0].custody.withLock { $0.ledgers.filter { warm.contains($0.key.job) } }
                .sorted { $0.key.shard < $1.key.shard }.map { "shard \($0.key.shard): \($0.value.adaptiveTrace(of: key))" }
            let sleeper = swarm.workers[index]
            sleeper.turn()
            // The others wait until it has sealed 100 units, so that it runs some alone whichever worker comes first.
            let others = swarm.workers.indices.filter { $0 != index }
            for other in others { swarm.workers[other].pause() }
            let before = sleeper.snapshot.statistics
            var spec = AdaptiveSwarmTests.adaptiveSpec(units: 1200, kernel: CheckedTallyKernel.name)
            spec.redundancy.verifyAlone = verifyAlone
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
            var stood: Set<Int> = []
            var refuted: Set<Int> = []
            var resumed = false
            let deadline = Date() + 300
            var progress = swarm.progress(of: job, outputs: true)
            while progress?.done != true, Date() < deadline {
                for (unit, output) in progress?.validatedOutputs ?? [:] where output != AdaptiveSwarmTests.square(unit) { stood.insert(unit) }
                for peer in swarm.peers {
                    let ledgers = peer.custody.withLock { $0.ledgers.filter { $0.key.job == job }.map(\.value) }
                    for ledger in ledgers { refuted.formUnion(ledger.adaptive.refuted.keys) }
                }
                if !resumed, sleeper.snapshot.statistics.committed - before.committed >= 100 || Date() > deadline - 240 {
                    for other in others { swarm.workers[other].resume() }
                    resumed = true
                }
                swarm.waitForChange(until: min(deadline, Date() + 1))
                progress = swarm.progress(of: job, outputs: true)
            }
            #expect(progress?.validated == 1200, "progress: \(String(describing: progress))")
            let report = try AdaptiveSwarmTests.collect(job, on: swarm)
            AdaptiveSwarmTests.expectRight(report, validated: 1200)
            let caught = report.verdicts.filter { $0.invalid.contains { $0.worker == key } }.count
            let cheated = sleeper.snapshot.statistics.cheated
            print(
                "verifyAlone \(verifyAlone): the sleeper cheated on \(cheated); its results did not count in \(caught); "
                    + "\(refuted.count) refuted by the check; \(stood.count) wrong results stood for a while")
            #expect(cheated > 0 && caught > 0)
            if verifyAlone {
                #expect(!refuted.isEmpty, "the sleeper ran nothing alone; its prior standing at each peer: \(priors); its warm-up facts: \(warmFacts)")
                #expect(stood.count == 0, "wrong results stood validated in units \(stood.sorted().prefix(20))")
            } else {
                #expect(refuted.isEmpty)
            }
        }
    }
}
