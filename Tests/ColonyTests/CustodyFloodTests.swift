import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// Anyone can sign a job naming a peer as custodian and publish it there, and a peer keeps every job's manifest in
/// memory for good: a flood of such jobs, over the wire, is held to `CustodyLimits`.
@Suite(.serialized) struct CustodyFloodTests {
    /// A started peer on `host` (a loopback address of its own, so that its requests come from it).
    static func peer(_ name: String, host: String, in folder: URL, limits: CustodyLimits = CustodyLimits()) throws -> ColonyPeer {
        var configuration = ColonyPeer.Configuration()
        configuration.syncInterval = nil
        configuration.blobs.repairInterval = nil
        configuration.blobs.rateLimit = nil
        configuration.registry = KernelRegistry([TallyKernel.self])
        configuration.custodyLimits = limits
        let peer = try ColonyPeer(dataDirectory: folder.appendingPathComponent(name), host: host, configuration: configuration)
        try peer.start()
        return peer
    }

    /// A one-unit tally job, signed by a fresh key, that names `custodian` alone.
    static func job(for custodian: ColonyPeer) throws -> JobManifest {
        try SwarmTestSupport.manifest(units: 1, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(custodian)])
    }

    /// Publishes `count` jobs naming `victim` from `publisher`; returns the refusals' texts, one per job refused.
    static func flood(_ victim: ColonyPeer, from publisher: ColonyPeer, count: Int) throws -> [String] {
        var refusals: [String] = []
        for _ in 0..<count {
            do {
                _ = try publisher.publish(try job(for: victim))
            } catch {
                refusals.append("\(error)")
            }
        }
        return refusals
    }

    @Test("a flood of signed jobs from one address is kept up to its burst, other addresses up to the jobs cap, and a full peer refuses offers")
    func aFloodOfJobsNamingAPeerIsHeldToItsCustodyLimits() throws {
        let folder = SwarmTestSupport.folder("custody-flood")
        defer { try? FileManager.default.removeItem(at: folder) }
        var limits = CustodyLimits()
        limits.maxJobs = 12
        limits.newJobsPerAddress = RateLimit(datagramsPerSecond: 1.0 / 3_600, burst: 5, trackedAddresses: 64)
        let victim = try Self.peer("victim", host: "127.210.0.1", in: folder, limits: limits)
        defer { victim.stop(handOff: false) }
        let flooder = try Self.peer("flooder", host: "127.211.0.1", in: folder)
        defer { flooder.stop(handOff: false) }

        // One address: its burst of 5 kept, the rest refused by its rate.
        let refused = try Self.flood(victim, from: flooder, count: 8)
        #expect(refused.count == 3)
        #expect(refused.allSatisfy { $0.contains("address 127.211.0.1 published 5 jobs here lately") }, "\(refused.first ?? "")")
        #expect(victim.custodian.manifests.count == 5)
        #expect(victim.statistics.rejected["too many jobs"] == 3)

        // Another address still publishes: the flooder did not take the peer's whole allowance.
        let honest = try Self.peer("honest", host: "127.212.0.1", in: folder)
        defer { honest.stop(handOff: false) }
        #expect(try Self.flood(victim, from: honest, count: 1).isEmpty)
        #expect(victim.custodian.manifests.count == 6)

        // Flooders on more addresses fill the jobs cap, and no more: 12 jobs kept of 16 published.
        var more: [String] = []
        for index in 0..<2 {
            let other = try Self.peer("other\(index)", host: "127.213.0.\(index + 1)", in: folder)
            defer { other.stop(handOff: false) }
            more += try Self.flood(victim, from: other, count: 5)
        }
        #expect(victim.custodian.manifests.count == 12)
        #expect(more.count == 4)
        #expect(more.allSatisfy { $0.contains("keeps 12 jobs in its custody, its limit") }, "\(more.first ?? "")")
        // At the cap it refuses to be chosen as a custodian at all, so publishers choose others.
        #expect(honest.acceptedCustody(of: victim.endpoint, nonce: [UInt8](repeating: 7, count: 16)) == nil)
        #expect((victim.statistics.rejected["custody full"] ?? 0) == 5)
    }

    @Test("a worker's peer fetching the jobs a flooder lists keeps no more of them than its limit, and still takes custody")
    func jobsFetchedForAWorkerCountAgainstTheLimits() throws {
        let folder = SwarmTestSupport.folder("custody-fetched")
        defer { try? FileManager.default.removeItem(at: folder) }
        var limits = CustodyLimits()
        limits.maxJobs = 3
        let worker = try Self.peer("worker", host: "127.216.0.1", in: folder, limits: limits)
        defer { worker.stop(handOff: false) }
        let flooder = try Self.peer("flooder", host: "127.217.0.1", in: folder)
        defer { flooder.stop(handOff: false) }
        // Jobs the flooder keeps and lists (`co_jobs`), as a worker's discovery finds them.
        for _ in 0..<5 { _ = try flooder.publish(try Self.job(for: flooder)) }
        let listed = worker.jobLists(
            asking: [flooder.endpoint], with: CustodyWire.frame("co_jobs", [("kernel", .text("tally")), ("version", .integer(1))]))
        #expect(listed.count == 5)
        var refusals: [String] = []
        for found in listed {
            do { _ = try worker.fetchManifest(found.job, root: found.root, hint: [found.source]) } catch { refusals.append("\(error)") }
        }
        #expect(worker.custodian.manifests.count == 3)
        #expect(refusals.count == 2)
        #expect(refusals.allSatisfy { $0.contains("keeps 3 jobs it knows of but does not keep custody of, its limit") }, "\(refusals.first ?? "")")
        // The jobs it keeps custody of have an allowance of their own, which the flood left whole.
        _ = try flooder.publish(try Self.job(for: worker))
        #expect(worker.custodian.manifests.count == 4)
    }

    @Test("jobs whose manifests hold more than the peer's byte allowance are refused, though the count is far from its cap")
    func manifestsPastTheByteAllowanceAreRefused() throws {
        let folder = SwarmTestSupport.folder("custody-bytes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let probe = try SwarmTestSupport.manifest(units: 200, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.stranger()])
        var limits = CustodyLimits()
        // Room for two jobs of 200 units, not three.
        limits.maxManifestBytes = probe.heldBytes * 5 / 2
        let victim = try Self.peer("victim", host: "127.214.0.1", in: folder, limits: limits)
        defer { victim.stop(handOff: false) }
        let publisher = try Self.peer("publisher", host: "127.215.0.1", in: folder)
        defer { publisher.stop(handOff: false) }
        var refusals: [String] = []
        for _ in 0..<4 {
            let manifest = try SwarmTestSupport.manifest(units: 200, replicas: 1, quorum: 1, custodians: [SwarmTestSupport.member(victim)])
            do { _ = try publisher.publish(manifest) } catch { refusals.append("\(error)") }
        }
        #expect(victim.custodian.manifests.count == 2)
        #expect(refusals.count == 2)
        #expect(refusals.allSatisfy { $0.contains("bytes of \(limits.maxManifestBytes)") }, "\(refusals.first ?? "")")
        #expect(victim.custodian.manifestBytes <= limits.maxManifestBytes)
    }
}
