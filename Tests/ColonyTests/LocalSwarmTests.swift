import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// Temporary folders for swarm tests.
enum SwarmTestSupport {
    static func folder(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("colony-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func manifest(units: Int, replicas: Int = 2, quorum: Int = 2, lease: Int = 10, shard: Int = 64) throws -> JobManifest {
        let spec = JobSpec(
            kernel: "tally", title: "tally \(units)", parameters: ["units": .int(units)],
            redundancy: Redundancy(replicas: replicas, quorum: quorum, maxAttempts: 6), leaseSeconds: lease, source: "test")
        let units = try TallyKernel().units(for: spec.parameters)
        return try JobManifest.signed(spec: spec, kernelVersion: 1, units: units, by: Identity(privateKey: Ed25519PrivateKey()), shardSize: shard)
    }
}

@Suite(.serialized) struct LocalSwarmTests {
    @Test func aSwarmValidatesEveryUnitAndCatchesCheatersAndCopycats() throws {
        let folder = SwarmTestSupport.folder("swarm")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = 6
        options.cheaters = 1
        options.copycats = 1
        options.registry = KernelRegistry([TallyKernel.self])
        let swarm = LocalSwarm(options: options)
        try swarm.start()
        defer { swarm.stop() }
        let manifest = try SwarmTestSupport.manifest(units: 300)
        let job = try swarm.publish(manifest)
        // Wakes on every change of custody; the timeout only matters when the test is already failing.
        let progress = swarm.waitUntilDecided(job, timeout: 300)
        #expect(progress?.done == true, "progress: \(String(describing: progress))")
        #expect(progress?.validated == 300)

        // A peer that took no part re-verifies everything from the records.
        let observer = try swarm.observer()
        defer { observer.stop() }
        let report = try JobCollector.collect(job, via: observer, registry: KernelRegistry([TallyKernel.self]))
        #expect(report.validated == 300)
        #expect(report.badSignatures == 0)
        for verdict in report.verdicts {
            let expected = withUnsafeBytes(of: (UInt64(verdict.unit) * UInt64(verdict.unit)).littleEndian) { Array($0) }
            #expect(verdict.output == expected, "unit \(verdict.unit)")
        }
        let cheater = swarm.peers[5].identity.publicKey
        #expect(report.verdicts.allSatisfy { !$0.agreeing.contains(cheater) })
        let summary = try JobCollector.assemble(report, registry: KernelRegistry([TallyKernel.self]), into: folder.appendingPathComponent("out"))
        let sum = (0..<300).reduce(UInt64(0)) { $0 + UInt64($1 * $1) }
        #expect(summary.values["sum"] == .string(String(sum)))
        print("swarm test: attempts \(report.attempts), invalid \(report.invalid), refusals \(swarm.refusals)")
    }
}
