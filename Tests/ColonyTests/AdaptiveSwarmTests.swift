import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@testable import Colony

/// Adaptive replication over the real wire (issue 14): custodians and workers in one process, every record signed and
/// checked, the verdicts re-derived by a peer that took no part.
@Suite(.serialized) struct AdaptiveSwarmTests {
    static func adaptiveSpec(units: Int, minSpotCheck: Double = 0.01) -> JobSpec {
        var redundancy = Redundancy(replicas: 2, quorum: 2, maxAttempts: 10)
        redundancy.adaptive = true
        redundancy.minSpotCheck = minSpotCheck
        return JobSpec(
            kernel: "tally", title: "adaptive tally \(units)", parameters: ["units": .int(units)], redundancy: redundancy,
            leaseSeconds: 10, source: "test")
    }

    @Test func honestWorkersEarnTrustAndMostUnitsRunOnce() throws {
        let folder = SwarmTestSupport.folder("adaptive")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = 4
        options.registry = KernelRegistry([TallyKernel.self])
        let swarm = LocalSwarm(options: options)
        try swarm.start()
        defer { swarm.stop() }
        let spec = Self.adaptiveSpec(units: 1200)
        let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
        let progress = swarm.waitUntilDecided(job, timeout: 300)
        #expect(progress?.validated == 1200, "progress: \(String(describing: progress))")
        let observer = try swarm.observer()
        defer { observer.stop() }
        let report = try JobCollector.collect(job, via: observer, registry: KernelRegistry([TallyKernel.self]), withEvidence: true)
        #expect(report.validated == 1200)
        let revealed = swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.revealed }
        let single = report.verdicts.filter { $0.agreeing.count == 1 }.count
        print("revealed \(revealed) for 1200 units; \(single) validated by one result")
        #expect(single > 600)
        Self.expectRight(report)
    }

    static func expectRight(_ report: JobReport) {
        for verdict in report.verdicts {
            let expected = withUnsafeBytes(of: (UInt64(verdict.unit) * UInt64(verdict.unit)).littleEndian) { Array($0) }
            #expect(verdict.output == expected, "unit \(verdict.unit)")
        }
    }

    @Test func aSleeperIsCaughtAndNoneOfItsWrongOutputsStands() throws {
        // One of four workers is honest for its first 60 units, earns trust, then returns wrong outputs. Checks and
        // the closing check of each shard catch it; every unit ends validated with the right output.
        let folder = SwarmTestSupport.folder("adaptive-sleeper")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = 4
        options.sleepers = 1
        options.sleeperHonestUnits = 60
        options.registry = KernelRegistry([TallyKernel.self])
        let swarm = LocalSwarm(options: options)
        try swarm.start()
        defer { swarm.stop() }
        let spec = Self.adaptiveSpec(units: 1200, minSpotCheck: 0.01)
        let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
        let progress = swarm.waitUntilDecided(job, timeout: 300)
        #expect(progress?.validated == 1200, "progress: \(String(describing: progress))")
        let observer = try swarm.observer()
        defer { observer.stop() }
        let report = try JobCollector.collect(job, via: observer, registry: KernelRegistry([TallyKernel.self]))
        #expect(report.validated == 1200)
        Self.expectRight(report)
        let sleeper = try #require(swarm.peers.indices.first { swarm.behaviour(of: $0) == .sleeper }).map { swarm.peers[$0].identity.publicKey }
        let caught = report.verdicts.filter { $0.invalid.contains { $0.worker == sleeper } }.count
        print("the sleeper's results did not count in \(caught) units")
        #expect(caught > 0)
    }
}
