import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony
@testable import ColonyWork

/// A peeker sitting on its results (issue 14), apart from the serialized `AdaptiveSwarmTests`: most of its time is a
/// wait on the clock (leases of 120 s, a reveal grace of 30 s) that overlaps that suite's work instead of adding to
/// its length, the critical path of `swift test`. It ran 40–126 s there.
@Suite struct AdaptiveSwarmSittingTests {
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
}
