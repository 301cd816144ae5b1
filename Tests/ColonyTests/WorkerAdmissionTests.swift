import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

@Suite(.serialized) struct WorkerAdmissionTests {
    @Test("a worker refuses the job of a blocked publisher, once, and works on the others")
    func blockedPublisherIsNotWorkedOn() throws {
        let folder = SwarmTestSupport.folder("admission")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (node, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: KernelRegistry([TallyKernel.self]))
        defer {
            host.stop(handOff: false)
            node.stop(handOff: false)
        }
        let custodians = [SwarmTestSupport.member(node), SwarmTestSupport.member(host)]
        let blocked = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, custodians: custodians)
        let allowed = try SwarmTestSupport.manifest(units: 4, replicas: 1, quorum: 1, custodians: custodians)
        _ = try node.publish(blocked)
        _ = try node.publish(allowed)

        var workerConfiguration = SwarmTestSupport.workerConfiguration(KernelRegistry([TallyKernel.self]))
        workerConfiguration.admission = JobAdmission(blockedPublishers: [blocked.publisher.hex])
        let lines = Mutex<[String]>([])
        let worker = SwarmWorker(peer: host, configuration: workerConfiguration) { line in
            lines.withLock { $0.append(line) }
        }
        worker.start()
        defer { worker.stop() }
        // Waits for the allowed job's units to be validated; the bound is only there to fail instead of hanging.
        let settled = worker.wait(
            until: { $0.snapshot.statistics.validated >= 4 && $0.snapshot.statistics.jobsIgnored >= 1 }, timeout: 120)
        try #require(settled, "the worker neither finished the allowed job nor refused the blocked one")
        let snapshot = worker.snapshot
        #expect(Set(snapshot.jobs.keys) == [allowed.id])
        #expect(snapshot.statistics.jobsIgnored == 1)
        #expect(snapshot.statistics.computed == 4)
        let refusals = lines.withLock { $0.filter { $0.hasPrefix("not working on job") } }
        #expect(
            refusals == [
                "not working on job \(blocked.id.hex.prefix(12)) (\(blocked.title)): publisher \(blocked.publisher.hex.prefix(12)) is blocked by the donor's preferences"
            ])
    }
}
