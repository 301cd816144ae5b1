import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

/// A slow test kernel that checkpoints: a unit is `steps` rounds of mixing; its output does not depend on where
/// it was stopped and resumed.
struct SpinKernel: ComputeKernel {
    static let name = "spin"
    static let version = 1
    static let summary = "Slow mixing rounds with checkpoints (tests)"
    static let parameters = [KernelParameterInfo("steps", "rounds per unit")]

    /// Signalled once, when a unit not resumed from a checkpoint is a third done.
    static let aThirdDone = DispatchSemaphore(value: 0)
    /// What the kernel then waits for: the test signals it once the worker is stopping.
    static let goOn = DispatchSemaphore(value: 0)
    /// Whether a run not resumed from a checkpoint holds at a third until its host stops.
    static let holdAtAThird = Atomic<Bool>(true)
    /// Runs that began from a checkpoint.
    static let resumedRuns = Atomic<Int>(0)

    struct State: Codable {
        var step: Int
        var value: UInt64
    }

    func units(for parameters: KernelParameters) throws -> [Data] {
        let steps = try parameters.int("steps", in: 1...100_000)
        return [withUnsafeBytes(of: UInt64(steps).littleEndian) { Data($0) }]
    }

    func run(_ input: Data, context: KernelContext) throws -> Data {
        let steps = Int(input.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        var state = context.restore(State.self) ?? State(step: 0, value: 1)
        if context.checkpoint != nil { Self.resumedRuns.add(1, ordering: .relaxed) }
        let resumed = context.checkpoint != nil
        while state.step < steps {
            for _ in 0..<50_000 { state.value = (state.value &* 6_364_136_223_846_793_005 &+ 1) ^ (state.value >> 29) }
            state.step += 1
            if !resumed && state.step == steps / 3 && Self.holdAtAThird.load(ordering: .relaxed) {
                // Stands for a long unit: holds here until the test has asked the worker to stop, so the stop
                // always lands mid-unit however the machine schedules it (bounded, in case the test fails first).
                Self.aThirdDone.signal()
                _ = Self.goOn.wait(timeout: .now() + 120)
            }
            try context.step(progress: Double(state.step) / Double(steps)) { state }
        }
        return withUnsafeBytes(of: state.value.littleEndian) { Data($0) }
    }

    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        KernelSummary(values: ["units": .int(outputs.count)], headline: "spun")
    }
}

@Suite(.serialized) struct WorkerResumeTests {
    @Test func aStoppedWorkerReleasesItsLeaseKeepsTheCheckpointAndResumesWhenLeasedAgain() throws {
        let folder = SwarmTestSupport.folder("resume")
        defer { try? FileManager.default.removeItem(at: folder) }
        let registry = KernelRegistry([SpinKernel.self])
        let (node, host) = try SwarmTestSupport.nodeAndHost(in: folder, registry: registry)
        defer {
            host.stop(handOff: false)
            node.stop(handOff: false)
        }
        let changed = DispatchSemaphore(value: 0)
        for peer in [node, host] { peer.onCustodyChange = { changed.signal() } }

        let spec = JobSpec(
            kernel: SpinKernel.name, title: "spin", parameters: ["steps": .int(150)],
            redundancy: Redundancy(replicas: 1, quorum: 1, maxAttempts: 3), leaseSeconds: 600, source: "test")
        let manifest = try JobManifest.signed(
            spec: spec, kernelVersion: 1, units: try SpinKernel().units(for: spec.parameters),
            by: Identity(privateKey: Ed25519PrivateKey()),
            custody: { _, shards in JobCustody.same([SwarmTestSupport.member(node), SwarmTestSupport.member(host)], shards: shards) })
        let job = try node.publish(manifest).job

        var workerConfiguration = SwarmWorker.Configuration()
        workerConfiguration.kernels = registry
        workerConfiguration.lowPriority = false
        workerConfiguration.discoveryInterval = 1
        workerConfiguration.idleDiscoveryInterval = 0.1
        workerConfiguration.checkpointInterval = 0.02
        workerConfiguration.stateFolder = folder.appendingPathComponent("worker-state")
        let first = SwarmWorker(peer: host, configuration: workerConfiguration)
        first.start()
        #expect(SpinKernel.aThirdDone.wait(timeout: .now() + 120) == .success)
        first.requestStop()  // Ctrl-C
        SpinKernel.goOn.signal()
        first.stop()
        #expect(first.snapshot.statistics.released == 1)
        #expect(first.snapshot.statistics.checkpointsSaved >= 1)
        let ref = ShardRef(job: job, shard: 0)
        // Given back: no live lease, and it does not count as an attempt. The lease and its release may have
        // gone to the other custodian first; they reach this one when forwarded.
        var released = host.custodian.verdicts(ref, now: CustodyClock.now())?.first
        let forwarded = Date() + 60
        while !(released?.liveLeases == 0 && released?.attempts == 0 && host.custodian.recordIDs(ref).count >= 2)
            && Date() < forwarded
        {
            _ = changed.wait(timeout: .now() + 1)
            released = host.custodian.verdicts(ref, now: CustodyClock.now())?.first
        }
        #expect(released?.liveLeases == 0 && released?.attempts == 0 && released?.openSlots == 1)

        let second = SwarmWorker(peer: host, configuration: workerConfiguration)
        second.start()
        defer { second.stop() }
        var verdict = host.custodian.verdicts(ref, now: CustodyClock.now())?.first
        let deadline = Date() + 120
        while verdict?.state != .validated && Date() < deadline {
            _ = changed.wait(timeout: .now() + 1)
            verdict = host.custodian.verdicts(ref, now: CustodyClock.now())?.first
        }
        #expect(verdict?.state == .validated)
        // The same worker was leased the unit again and resumed from its checkpoint, to the output an
        // uninterrupted run gives.
        #expect(verdict?.attempts == 1)
        #expect(second.snapshot.statistics.resumed == 1)
        #expect(SpinKernel.resumedRuns.load(ordering: .relaxed) >= 1)
        SpinKernel.holdAtAThird.store(false, ordering: .relaxed)
        let uninterrupted = try SpinKernel().run(manifest.units.first.flatMap { if case .inline(let b) = $0 { Data(b) } else { nil } }!, context: KernelContext(unit: 0))
        #expect(verdict?.output == [UInt8](uninterrupted))
    }
}
