import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

/// Anyone can announce itself under a kernel's topic key, and a worker asks everyone found there for jobs: a source
/// that lists jobs that do not exist, offers a real job under a root of its own, or holds its answer, is an attacker
/// every donor meets.
@Suite struct WorkerDiscoverySourcesTests {
    /// A node keeping custody of one real job, a worker and its peer, and a third peer announced under the tally
    /// topic whose answers to `co_jobs` come from `answer` (nil: its own list).
    static func withLister(
        _ name: String, answer: @escaping @Sendable (_ request: Frame, _ realJob: JobManifest) -> ColonyPeer.AnswerFault?,
        _ body: (_ worker: SwarmWorker, _ host: ColonyPeer, _ job: JobManifest) throws -> Void
    ) throws {
        try SwarmTestSupport.withNodeAndHost(name) { folder, node, host in
            var configuration = ColonyPeer.Configuration()
            configuration.syncInterval = nil
            configuration.registry = KernelRegistry([TallyKernel.self])
            let lister = try ColonyPeer(dataDirectory: folder.appendingPathComponent("lister"), configuration: configuration)
            try lister.start()
            defer { lister.stop(handOff: false) }
            lister.join([node.endpoint], timeout: 10)
            let job = try SwarmTestSupport.manifest(units: 8, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(node)])
            lister.answerFault = { frame in CustodyWire.op(frame) == "co_jobs" ? answer(frame, job) : nil }
            lister.announce(under: JobKeys.topic(kernel: TallyKernel.name, version: TallyKernel.version))
            _ = try node.publish(job)
            try #require(host.peers(under: JobKeys.topic(kernel: TallyKernel.name, version: TallyKernel.version)).contains(lister.endpoint))
            let worker = SwarmWorker(peer: host, configuration: SwarmTestSupport.workerConfiguration(KernelRegistry([TallyKernel.self])))
            worker.start()
            defer { worker.stop() }
            try body(worker, host, job)
        }
    }

    @Test("a source listing 300 jobs that do not exist, and the real job under roots of its own, costs a worker two fetches")
    func aListerOfJobsThatDoNotCheckOutIsPassedOver() throws {
        // Before, the worker fetched every job listed (300 failed fetches in its first look, one after another on its
        // control thread) and ignored for good a real job whose first root heard of did not check out.
        let bogus = (0..<300).map { index in
            BencodeValue.list([.bytes(SHA256.hash([UInt8]("no such job \(index)".utf8)).bytes), .bytes(SHA256.hash([UInt8]("no such root \(index)".utf8)).bytes)])
        }
        try Self.withLister("discovery-bogus", answer: { _, realJob in
            // The real job under four roots of its own: kept, they filled every place for the job's roots when the
            // lister was asked first, and the custodian's real root was never tried.
            let offered = (0..<4).map { BencodeValue.list([.bytes(realJob.id.bytes), .bytes(SHA256.hash([UInt8]("bogus root \($0)".utf8)).bytes)]) }
            return .answered(CustodyWire.frame("jobs", payload: .list(offered + bogus)))
        }) { worker, host, job in
            let computed = worker.wait(until: { $0.snapshot.statistics.validated >= 8 }, timeout: 60)
            let statistics = worker.snapshot.statistics
            print("validated \(statistics.validated) of 8; \(statistics.jobsIgnored) jobs ignored, \(statistics.sourcesDistrusted) sources passed over, \(statistics.discoveries) looks")
            #expect(computed, "the real job was not computed: \(statistics.validated) of 8 validated")
            #expect(statistics.sourcesDistrusted == 1)
            // Two failed fetches charged the lister; each job it alone offered was then passed over.
            #expect(statistics.jobsIgnored <= SwarmWorker.sourceFailureLimit)
            #expect(worker.wait(until: { _ in host.manifest(job.id) == nil }, timeout: 30), "the finished job stayed known")
        }
    }

    @Test("a source that holds its answer to every look but the first does not hold the worker's leases, seals and reveals")
    func aSourceThatHoldsItsListDoesNotHoldTheWorker() throws {
        // The lister answers the first look at once, then holds each answer for 20 s (the worker waits 10). Before,
        // each look asked the sources in turn on the control thread, so a lease, then its seals, then its reveals each
        // waited for a look to end: 8 units took 4 or more looks. Now the looks run on their own thread.
        let asked = Atomic<Int>(0)
        let release = DispatchSemaphore(value: 0)
        try Self.withLister("discovery-held", answer: { _, _ in
            if asked.add(1, ordering: .relaxed).newValue > 1 { _ = release.wait(timeout: .now() + 20) }
            return nil
        }) { worker, host, job in
            defer { for _ in 0..<16 { release.signal() } }
            let computed = worker.wait(until: { $0.snapshot.statistics.validated >= 8 }, timeout: 60)
            let statistics = worker.snapshot.statistics
            print("validated \(statistics.validated) of 8 in \(statistics.discoveries) looks; the lister was asked \(asked.load(ordering: .relaxed)) times")
            #expect(computed)
            // The first look found the job; the second, held by the lister, had not ended.
            #expect(statistics.discoveries <= 2)
            #expect(asked.load(ordering: .relaxed) >= 2)
        }
    }
}
