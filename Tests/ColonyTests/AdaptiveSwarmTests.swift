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

    /// Four peers computing tally units, each on a network of its own, for `body`; stopped and removed after.
    static func withSwarm(_ name: String, configure: (inout LocalSwarm.Options) -> Void = { _ in }, _ body: (LocalSwarm) throws -> Void) throws {
        let folder = SwarmTestSupport.folder(name)
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = 4
        options.registry = KernelRegistry([TallyKernel.self])
        configure(&options)
        let swarm = LocalSwarm(options: options)
        try swarm.start()
        defer { swarm.stop() }
        try body(swarm)
    }

    @Test func honestWorkersEarnTrustAndMostUnitsRunOnce() throws {
        try Self.withSwarm("adaptive") { swarm in
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
    }

    static func expectRight(_ report: JobReport) {
        for verdict in report.verdicts {
            let expected = withUnsafeBytes(of: (UInt64(verdict.unit) * UInt64(verdict.unit)).littleEndian) { Array($0) }
            #expect(verdict.output == expected, "unit \(verdict.unit)")
        }
    }

    @Test func trustEarnedInOneJobCarriesIntoTheNext() throws {
        // A replicated job first: every worker passes many checks. Then an adaptive job of the same kernel, too small
        // for trust earned inside it (4 workers × 10 replicated units each before anything runs once): the leases
        // cite the first job's shards, and a peer that took no part counts them again from those records.
        try Self.withSwarm("adaptive-prior") { swarm in
            var first = Self.adaptiveSpec(units: 400)
            first.redundancy.adaptive = false
            first.title = "replicated tally 400"
            let warm = try swarm.publish(spec: first, kernelVersion: 1, units: try TallyKernel().units(for: first.parameters))
            #expect(swarm.waitUntilDecided(warm, timeout: 300)?.validated == 400)
            let spec = Self.adaptiveSpec(units: 100)
            let job = try swarm.publish(spec: spec, kernelVersion: 1, units: try TallyKernel().units(for: spec.parameters))
            #expect(swarm.waitUntilDecided(job, timeout: 300)?.validated == 100)
            let observer = try swarm.observer()
            defer { observer.stop() }
            let report = try JobCollector.collect(job, via: observer, registry: KernelRegistry([TallyKernel.self]))
            #expect(report.validated == 100)
            Self.expectRight(report)
            let single = report.verdicts.filter { $0.agreeing.count == 1 }.count
            print("\(single) of 100 units validated by one result after a replicated job")
            // Trust earned in this job alone leaves at most 60 of them to run once.
            #expect(single > 70)
        }
    }

    @Test func aSleeperIsCaughtAndNoneOfItsWrongOutputsStands() throws {
        // One of four workers is honest for its first 60 units, earns trust, then returns wrong outputs. Checks and
        // the closing check of each shard catch it; every unit ends validated with the right output.
        try Self.withSwarm("adaptive-sleeper", configure: { options in
            options.sleepers = 1
            options.sleeperHonestUnits = 60
        }) { swarm in
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
}
