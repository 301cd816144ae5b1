import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// A worker runs for years: its peer may know only so many jobs (`CustodyLimits.maxJobs`, 4,096), and every job it
/// ever fetched for its worker used to stay known for good, in memory and in the journal, so a long-lived worker
/// reached the cap and then ignored every new job.
@Suite(.serialized) struct WorkerFinishedJobsTests {
    @Test("a worker whose peer may know 3 jobs computes 8 published one after another, and its peer forgets each finished one")
    func aWorkerAtItsPeersJobCapForgetsFinishedJobsAndTakesNewOnes() throws {
        let folder = SwarmTestSupport.folder("finished-jobs")
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = KernelRegistry([TallyKernel.self])
        var limits = CustodyLimits()
        limits.maxJobs = 3
        let (node, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: registry, hostLimits: limits)
        defer { node.stop(handOff: false) }
        var hostStopped = false
        defer { if !hostStopped { host.stop(handOff: false) } }
        let worker = SwarmWorker(peer: host, configuration: SwarmTestSupport.workerConfiguration(registry))
        worker.start()
        var workerStopped = false
        defer { if !workerStopped { worker.stop() } }

        // One job at a time, each named for the node alone: the worker's peer knows them only for its worker.
        var published: [JobID] = []
        for index in 0..<8 {
            let manifest = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node)])
            _ = try node.publish(manifest)
            published.append(manifest.id)
            let validated = worker.wait(until: { $0.snapshot.statistics.validated >= 4 * (index + 1) }, timeout: 60)
            let known = host.custody.withLock { $0.manifests.count }
            try #require(
                validated,
                "job \(index + 1) of 8 was not computed: \(worker.snapshot.statistics.validated) units validated, \(known) jobs known at the worker's peer (at most \(limits.maxJobs))")
        }
        // Each job is let go of once its shards say they have no open unit.
        #expect(worker.wait(until: { $0.snapshot.statistics.jobsFinished == 8 }, timeout: 30))
        let known = host.custody.withLock { ($0.manifests.count, $0.held[false]?.jobs ?? 0) }
        #expect(known.0 == 0 && known.1 == 0, "known at the worker's peer: \(known)")
        // The custodian lists only jobs with work left to workers looking for jobs: none of the 8, and a new one.
        let ask = CustodyWire.frame("co_jobs", [("kernel", .text(TallyKernel.name)), ("version", .integer(1))])
        #expect(host.jobLists(asking: [node.endpoint], with: ask).isEmpty)
        worker.pause()
        let next = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node)])
        _ = try node.publish(next)
        #expect(host.jobLists(asking: [node.endpoint], with: ask).map(\.job) == [next.id])
        // The status display still names the latest jobs.
        #expect(Set(worker.snapshot.jobs.keys) == Set(published))
        // Nothing finished is fetched again: every job was found once.
        #expect(worker.snapshot.statistics.jobsSeen == 8)
        #expect(worker.snapshot.statistics.jobsIgnored == 0)

        // Forgotten in the journal too: a restart of the worker's peer knows no more than it did.
        worker.stop()
        workerStopped = true
        host.stop(handOff: false)
        hostStopped = true
        let journal = folder.appendingPathComponent("worker").appendingPathComponent("custody")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: journal.path)) ?? []
        #expect(!files.contains { $0.hasSuffix(".learned") }, "journal: \(files.sorted())")
        #expect(!files.contains { $0.hasSuffix(".root") }, "journal: \(files.sorted())")
    }

    @Test("a peer forgets a job it learned for its worker, also after a restart, and never one it keeps custody of or published")
    func onlyJobsLearnedForTheWorkerAreForgotten() throws {
        let folder = SwarmTestSupport.folder("finished-kinds")
        defer { try? FileManager.default.removeItem(at: folder) }
        let node = try CustodyFloodTests.peer("node", host: "127.218.0.1", in: folder)
        defer { node.stop(handOff: false) }
        let first = try CustodyFloodTests.peer("worker", host: "127.219.0.1", in: folder)
        // Learned for the worker (named for the node alone), kept in custody (naming the worker's peer too), and
        // published by the worker's peer.
        let learned = try SwarmTestSupport.manifest(units: 2, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node)])
        let named = try SwarmTestSupport.manifest(
            units: 2, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node), SwarmTestSupport.member(first)])
        let published = try SwarmTestSupport.manifest(units: 2, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node)])
        _ = try node.publish(learned)
        _ = try node.publish(named)
        _ = try first.publish(published)
        _ = try first.fetchManifest(learned.id, root: node.root(of: learned.id), hint: [node.endpoint], forWorker: true)
        try #require([learned.id, named.id, published.id].allSatisfy { first.manifest($0) != nil })
        first.stop(handOff: false)

        let second = try CustodyFloodTests.peer("worker", host: "127.219.0.1", in: folder)
        #expect([learned.id, named.id, published.id].allSatisfy { second.manifest($0) != nil })
        #expect(!second.forgetLearnedJob(named.id))
        #expect(!second.forgetLearnedJob(published.id))
        #expect(second.forgetLearnedJob(learned.id))
        #expect(!second.forgetLearnedJob(learned.id))
        #expect(second.manifest(learned.id) == nil && second.root(of: learned.id) == nil)
        #expect(second.custodian.held[false]?.jobs == 1, "the published job, not the learned one")
        second.stop(handOff: false)

        let third = try CustodyFloodTests.peer("worker", host: "127.219.0.1", in: folder)
        defer { third.stop(handOff: false) }
        #expect(third.manifest(learned.id) == nil)
        #expect(third.manifest(named.id) != nil && third.manifest(published.id) != nil)
    }

    @Test("the jobs a worker remembers finishing or ignoring are the latest so many, whatever anyone announces")
    func theIDsAWorkerRemembersAreBounded() {
        var ids = RecentIDs<Int>(limit: 4)
        for id in 0..<10_000 { ids.insert(id) }
        #expect(ids.count == 4 && ids.elements == [9_996, 9_997, 9_998, 9_999])
        ids.insert(9_997)
        #expect(ids.count == 4)
        ids.subtract([9_996, 9_998])
        #expect(ids.elements == [9_997, 9_999])
        for id in [1, 2, 3] { ids.insert(id) }
        #expect(ids.count == 4 && ids.contains(3) && !ids.contains(9_997))
        #expect(SwarmWorker.idsRemembered == 65_536)
    }

    @Test(
        "a job the donor's preferences refuse holds no place in the peer's allowance, refused before it is found or once taken up",
        arguments: [false, true])
    func aJobThePreferencesRefuseIsForgottenByThePeer(takenUp: Bool) throws {
        // Taken up: replicas 2 with one worker, so the job never finishes and only the new preferences end it. Its
        // units already leased finish and report; the job leaves the worker, and its next look finds it listed and
        // declines it, as one refused from the start.
        try SwarmTestSupport.withNodeAndHost("finished-declined") { _, node, host in
            let manifest = try SwarmTestSupport.manifest(
                units: 4, replicas: takenUp ? 2 : 1, quorum: takenUp ? 2 : 1, custodians: [SwarmTestSupport.member(node)])
            _ = try node.publish(manifest)
            var preferences = DonorPreferences()
            preferences.blockedPublishers = [manifest.publisher.hex]
            var configuration = SwarmTestSupport.workerConfiguration(KernelRegistry([TallyKernel.self]))
            if !takenUp { configuration.admission = preferences.admission }
            let worker = SwarmWorker(peer: host, configuration: configuration)
            worker.start()
            defer { worker.stop() }
            if takenUp {
                try #require(worker.wait(until: { $0.snapshot.statistics.committed > 0 }, timeout: 30), "the job was never worked on")
                try #require(host.manifest(manifest.id) != nil)
                worker.apply(preferences)
            }
            try #require(worker.wait(until: { $0.snapshot.statistics.jobsIgnored == 1 }, timeout: 60), "the refused job was never looked at")
            // Forgotten right after it is counted, on the worker's discovery thread, before the look's change is signalled.
            #expect(
                worker.wait(until: { _ in host.manifest(manifest.id) == nil }, timeout: 10), "the refused job is still known at the worker's peer")
            #expect(host.custodian.held[false]?.jobs ?? 0 == 0)
        }
    }
}
