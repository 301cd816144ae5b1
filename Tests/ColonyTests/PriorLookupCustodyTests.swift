import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony
@testable import ColonyWork

/// A custodian looks up the trust a worker earned elsewhere for anyone who asks it for units (issue 14, Evidence):
/// the jobs that worker's evidence key names are read, not kept.
@Suite struct PriorLookupCustodyTests {
    @Test func jobsACustodianReadsForAWorkersStandingAreNotKept() throws {
        // A Sybil's evidence key names jobs of its choosing: four jobs kept by peer 1, two of the swarm's publisher and
        // two of a key of the Sybil's own, each with a lease of the Sybil. It then asks peer 2, the one custodian of an
        // adaptive job, for units; peer 2 looks its evidence up and reads the four manifests (their blobs are in its
        // store, the publisher's two jobs' shards counted for priors) and keeps none of them. Kept, each stayed in
        // memory and the journal for good and counted against `CustodyLimits`: a Sybil naming jobs of its own filled
        // them, and the peer then refused custody and its own worker's jobs ("custody full").
        try SwarmTestSupport.withSwarm("prior-lookup-reads", configure: { $0.peers = 3 }) { swarm in
            // No worker: a worker's peer learns the jobs it finds, which is not what this looks at.
            for worker in swarm.workers { worker.stop() }
            let sybil = Identity(privateKey: Ed25519PrivateKey())
            let sybilsPublisher = Identity(privateKey: Ed25519PrivateKey())
            let asker = swarm.peers[0]
            func askForUnits(_ job: JobID, of custodian: Int) throws -> String {
                let frame = CustodyWire.leaseRequest(
                    asker.jobFields(job), job: job, shard: 0, count: 1, by: sybil, now: CustodyClock.now(), holding: [])
                do throws(ColonyRequestError) {
                    return CustodyWire.op(try asker.request(frame, to: swarm.peers[custodian].endpoint, timeout: 10)) ?? "?"
                } catch {
                    return error.refusal?.reason ?? "\(error)"
                }
            }
            var cited: [(job: JobID, ours: Bool)] = []
            for (index, publisher) in [nil, nil, sybilsPublisher, sybilsPublisher].enumerated() {
                var spec = AdaptiveSwarmTests.adaptiveSpec(units: 4)
                spec.redundancy.adaptive = false
                spec.title = "cited \(index)"
                let job = try swarm.publish(
                    spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), custodians: [1], publisher: publisher)
                try #require(try askForUnits(job, of: 1) == "lease")
                cited.append((job, publisher == nil))
            }
            let spec = AdaptiveSwarmTests.adaptiveSpec(units: 8)
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), custodians: [2])
            let custodian = swarm.peers[2]
            let manifestsBefore = custodian.custodian.manifests.count
            func read(_ job: JobID) -> Bool { asker.root(of: job).map { custodian.blobs.store.isComplete($0) } ?? false }
            // A lookup that finds nothing (peer 1 not yet announced under the Sybil's evidence key) is tried again
            // after `priorRetryInterval` at the Sybil's next request.
            let deadline = Date() + 60
            var asked = 0
            while !cited.allSatisfy({ read($0.job) }), Date() < deadline {
                let finished = custodian.priorLookupsFinished
                _ = try askForUnits(job, of: 2)
                asked += 1
                while custodian.priorLookupsFinished == finished, Date() < deadline {
                    swarm.waitForChange(until: min(deadline, Date() + 0.2))
                }
                if !cited.allSatisfy({ read($0.job) }) { swarm.waitForChange(until: min(deadline, Date() + 2)) }
            }
            print("asked \(asked) times; \(custodian.priorLookupsFinished) lookups; read \(cited.filter { read($0.job) }.count) of \(cited.count)")
            for (cited, ours) in cited {
                #expect(read(cited), "the lookups did not read job \(cited.hex.prefix(12))")
                #expect(custodian.manifest(cited) == nil, "kept the manifest of a job it read for a prior")
                #expect(custodian.root(of: cited) == nil)
                // The publisher's jobs were gathered and count for priors; the Sybil's publisher's were not gathered.
                let counted = custodian.custodian.priorShards.keys.contains { $0.job == cited }
                #expect(counted == ours)
            }
            #expect(custodian.custodian.manifests.count == manifestsBefore)
            let files = try FileManager.default.contentsOfDirectory(atPath: custodian.journal.folder.path)
            for (cited, _) in cited { #expect(!files.contains { $0.hasPrefix(cited.hex) }, "\(files)") }
        }
    }

    @Test func aNewKeyIsHeldFromFreshUnitsForItsFirstLookupInAJobOnly() throws {
        // While a custodian looks up a worker's standing elsewhere it leases it no fresh unit (ColonyPeer
        // .holdsFreshUnits). A lookup that finds nothing is due again `priorRetryInterval` later: held at every one, a
        // new key whose evidence sources an attacker slows (each lookup then lasts up to `priorHoldSeconds`) went
        // without fresh units about half the time. Only its first lookup in a job holds anything back now.
        try SwarmTestSupport.withSwarm("prior-lookup-held-once", configure: { $0.peers = 3 }) { swarm in
            for worker in swarm.workers { worker.stop() }
            let newKey = Identity(privateKey: Ed25519PrivateKey())
            let asker = swarm.peers[0]
            let custodian = swarm.peers[2]
            func askForUnits(_ job: JobID) throws -> String {
                let frame = CustodyWire.leaseRequest(
                    asker.jobFields(job), job: job, shard: 0, count: 1, by: newKey, now: CustodyClock.now(), holding: [])
                do throws(ColonyRequestError) {
                    return CustodyWire.op(try asker.request(frame, to: custodian.endpoint, timeout: 10)) ?? "?"
                } catch {
                    return error.refusal?.reason ?? "\(error)"
                }
            }
            func awaitLookup(after finished: Int) {
                let deadline = Date() + 60
                while custodian.priorLookupsFinished == finished, Date() < deadline {
                    swarm.waitForChange(until: min(deadline, Date() + 0.2))
                }
            }
            // The retry of a lookup that found nothing, due now rather than `priorRetryInterval` from now.
            func retryDue() { custodian.priorLookups.withLock { $0.workers[newKey.publicKey] = Date() - 1 } }
            var jobs: [JobID] = []
            for title in ["first", "second"] {
                var spec = AdaptiveSwarmTests.adaptiveSpec(units: 8)
                spec.title = title
                jobs.append(try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters), custodians: [2]))
            }
            // First lookup in the job: held, and nobody started a unit it could be given instead.
            var finished = custodian.priorLookupsFinished
            #expect(try askForUnits(jobs[0]) == "none")
            awaitLookup(after: finished)
            #expect(custodian.priorLookupsFinished == finished + 1)
            // Its lookups again in the job hold nothing back, due or running.
            retryDue()
            #expect(custodian.holdsFreshUnits(for: newKey.publicKey, in: jobs[0]) == false)
            finished = custodian.priorLookupsFinished
            #expect(try askForUnits(jobs[0]) == "lease")
            custodian.priorLookups.withLock { $0.running[newKey.publicKey] = Date() }
            #expect(custodian.holdsFreshUnits(for: newKey.publicKey, in: jobs[0]) == false)
            awaitLookup(after: finished)
            // Another job: its first lookup there holds again, once.
            retryDue()
            #expect(custodian.holdsFreshUnits(for: newKey.publicKey, in: jobs[1]))
            #expect(try askForUnits(jobs[1]) == "none")
        }
    }
}
