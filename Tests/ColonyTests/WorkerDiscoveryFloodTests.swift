import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Testing

@testable import Colony

@Suite(.serialized) struct WorkerDiscoveryFloodTests {
    /// A worker looks for a job its own peer takes custody of at once, not at its next discovery. Anyone may sign a
    /// job naming a peer as custodian and publish it there, so a flooder publishing job after job must not make the
    /// worker look (a DHT lookup per kernel and a job list from every peer found) on each of its control passes.
    @Test("a flood of jobs published to a worker's peer starts at most one look a second, and every job is found")
    func aFloodOfJobsPublishedToTheWorkersPeerCostsItAtMostOneLookASecond() throws {
        let folder = SwarmTestSupport.folder("discovery-flood")
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = KernelRegistry([TallyKernel.self])
        let (flooder, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: registry)
        defer {
            host.stop(handOff: false)
            flooder.stop(handOff: false)
        }
        var configuration = SwarmTestSupport.workerConfiguration(registry)
        // Only the looks custody starts: the regular ones come once, when the worker starts.
        configuration.discoveryInterval = 3_600
        configuration.idleDiscoveryInterval = 3_600
        let worker = SwarmWorker(peer: host, configuration: configuration)
        worker.start()
        defer { worker.stop() }
        try #require(worker.wait(until: { $0.snapshot.statistics.discoveries >= 1 }, timeout: 30), "the worker never looked for jobs")

        // The first job is looked for at once, though the next regular look is an hour away.
        let started = Date()
        let first = try SwarmTestSupport.manifest(units: 1, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(host)])
        _ = try flooder.publish(first)
        try #require(worker.wait(until: { $0.hasTakenUp(first.id) }, timeout: 30), "a job published to the worker's peer was not found")

        // 60 more, each over the wire (`co_publish`), spread over the worker's control passes (one every 0.1 s at
        // most, sooner when a unit ends).
        var flood = [first.id]
        for _ in 0..<60 {
            let manifest = try SwarmTestSupport.manifest(units: 1, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(host)])
            _ = try flooder.publish(manifest)
            flood.append(manifest.id)
            // The flooder's own pace, not a wait for anything: spread over the worker's control passes, so that
            // without the bound each pass would find a new job (the worker has no virtual clock to drive instead).
            Thread.sleep(forTimeInterval: 0.03)
        }
        // Every job is found all the same: the last ones by a look at most a second after the one before.
        let found = worker.wait(until: { worker in flood.allSatisfy { worker.hasTakenUp($0) } }, timeout: 60)
        let seconds = Date().timeIntervalSince(started)
        let statistics = worker.snapshot.statistics
        try #require(found, "\(flood.filter { worker.hasTakenUp($0) }.count) of \(flood.count) published jobs found")
        #expect(host.custody.withLock { $0.manifests.count } == flood.count)
        // The look at start, one at once for the first job, then at most one a second: 5 in 3.2 s here. Without the
        // bound (`custodyDiscoveryInterval` 0) it is about one a control pass: 31 and 32 in 2.9 s, and this fails.
        let allowed = 2 + Int(seconds.rounded(.up))
        #expect(statistics.discoveries <= allowed, "\(statistics.discoveries) looks in \(seconds) s, at most \(allowed) allowed")
    }
}
