import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization
import Testing

@testable import Colony

/// A test kernel that runs until the test lets it end: each step counts, and the first step of a unit says so.
struct GateKernel: ComputeKernel {
    static let name = "gate"
    static let version = 1
    static let summary = "Runs until the test lets it end (tests)"
    static let parameters = [KernelParameterInfo("units", "units in the job")]

    /// Signalled at the first step of each unit.
    static let started = DispatchSemaphore(value: 0)
    /// Steps taken by all units.
    static let steps = Atomic<Int>(0)
    /// Whether units may end.
    static let mayEnd = Atomic<Bool>(false)

    func units(for parameters: KernelParameters) throws -> [Data] {
        (0..<(try parameters.int("units", in: 1...100))).map { Data([UInt8($0)]) }
    }

    func run(_ input: Data, context: KernelContext) throws -> Data {
        var step = 0
        // Bounded, in case the test fails before letting it end: 1 ms a step, at most ten minutes.
        while !Self.mayEnd.load(ordering: .relaxed) && step < 600_000 {
            Self.steps.add(1, ordering: .relaxed)
            step += 1
            if step == 1 { Self.started.signal() }
            try context.step(progress: 0.5) { Data() }
            usleep(1_000)   // the kernel under test: each step takes a moment, so a pause finds it mid-unit
        }
        return input
    }

    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        KernelSummary(values: ["units": .int(outputs.count)], headline: "gated")
    }
}

@Suite(.serialized) struct WorkerPauseTests {
    /// A custodian peer and a worker peer with a job of `units` gate units on them, and a worker (not started).
    final class Setup {
        let folder = SwarmTestSupport.folder("pause")
        let node: ColonyPeer
        let host: ColonyPeer
        let worker: SwarmWorker

        init(
            units: Int, leaseSeconds: Int = 600, configure: (inout SwarmWorker.Configuration) -> Void = { _ in }
        ) throws {
            GateKernel.mayEnd.store(false, ordering: .relaxed)
            while GateKernel.started.wait(timeout: .now()) == .success {}
            let registry = KernelRegistry([GateKernel.self])
            var configuration = ColonyPeer.Configuration()
            configuration.syncInterval = nil
            configuration.blobs.repairInterval = nil
            configuration.blobs.rateLimit = nil
            configuration.registry = registry
            node = try ColonyPeer(dataDirectory: folder.appendingPathComponent("node"), configuration: configuration)
            try node.start()
            host = try ColonyPeer(dataDirectory: folder.appendingPathComponent("worker"), configuration: configuration)
            try host.start()
            host.join([node.endpoint], timeout: 10)
            node.join([host.endpoint], timeout: 10)
            let spec = JobSpec(
                kernel: GateKernel.name, title: "gate", parameters: ["units": .int(units)],
                redundancy: Redundancy(replicas: 1, quorum: 1, maxAttempts: 3), leaseSeconds: leaseSeconds,
                source: "test")
            let manifest = try JobManifest.signed(
                spec: spec, kernelVersion: 1, units: try GateKernel().units(for: spec.parameters),
                by: Identity(privateKey: Ed25519PrivateKey()), shardSize: 1,
                custody: { [node, host] _, shards in
                    JobCustody.same([SwarmTestSupport.member(node), SwarmTestSupport.member(host)], shards: shards)
                })
            _ = try node.publish(manifest)
            var workerConfiguration = SwarmWorker.Configuration()
            workerConfiguration.kernels = registry
            workerConfiguration.lowPriority = false
            workerConfiguration.cores = 1
            workerConfiguration.idleDiscoveryInterval = 0.1
            configure(&workerConfiguration)
            worker = SwarmWorker(peer: host, configuration: workerConfiguration)
        }

        deinit {
            GateKernel.mayEnd.store(true, ordering: .relaxed)
            worker.stop()
            host.stop(handOff: false)
            node.stop(handOff: false)
            try? FileManager.default.removeItem(at: folder)
        }

        /// Starts the worker; true once its first unit has taken a step.
        func startComputing() -> Bool {
            worker.start()
            return GateKernel.started.wait(timeout: .now() + 120) == .success
        }

        /// Pauses the worker; true once its running kernel is held.
        func pauseAndHold() -> Bool {
            worker.pause()
            return until { $0.snapshot.running[0]?.held == true }
        }

        /// Waits (at most a minute) until `condition` holds of the worker; returns whether it did.
        func until(_ condition: (SwarmWorker) -> Bool) -> Bool { worker.wait(until: condition, timeout: 60) }
    }

    @Test func pauseHoldsTheRunningKernelAndResumeLetsItFinish() throws {
        let setup = try Setup(units: 1)
        let worker = setup.worker
        #expect(worker.state == .running)
        #expect(setup.startComputing())
        #expect(setup.pauseAndHold())
        #expect(worker.state == .paused)
        // Held inside `context.step`: the kernel takes no further step while paused.
        let steps = GateKernel.steps.load(ordering: .relaxed)
        #expect(setup.until { $0.snapshot.running[0]?.held == true })
        #expect(GateKernel.steps.load(ordering: .relaxed) == steps)
        #expect(worker.snapshot.statistics.computed == 0)
        #expect(worker.snapshot.running[0]?.progress == 0.5)

        GateKernel.mayEnd.store(true, ordering: .relaxed)
        worker.resume()
        #expect(worker.state == .running)
        #expect(setup.until { $0.snapshot.statistics.computed == 1 })
        #expect(worker.snapshot.running[0]?.held != true)
    }

    @Test func finishThenPauseLetsTheRunningUnitEndGivesBackTheRestAndPauses() throws {
        let setup = try Setup(units: 4)
        let worker = setup.worker
        #expect(setup.startComputing())

        worker.finishThenPause()
        #expect(worker.state == .finishing)
        // Finishing holds nothing: the running unit keeps stepping.
        let steps = GateKernel.steps.load(ordering: .relaxed)
        #expect(setup.until { _ in GateKernel.steps.load(ordering: .relaxed) > steps })
        #expect(worker.snapshot.running[0]?.held == false)

        GateKernel.mayEnd.store(true, ordering: .relaxed)
        #expect(setup.until { $0.state == .paused })
        let snapshot = worker.snapshot
        #expect(snapshot.statistics.computed == 1)
        #expect(snapshot.running.isEmpty)
        #expect(snapshot.buffered == 0)

        // Resumed, it leases and computes the other units.
        worker.resume()
        #expect(setup.until { $0.snapshot.statistics.computed == 4 })
    }

    @Test func aPausedWorkerStopsAndGivesItsHeldUnitBack() throws {
        let setup = try Setup(units: 1)
        let worker = setup.worker
        #expect(setup.startComputing())
        #expect(setup.pauseAndHold())
        // Ctrl-C while paused: the held kernel is let go, interrupted at that step, and its lease given back.
        #expect(worker.stop(within: 30))
        #expect(worker.snapshot.statistics.released == 1)
        #expect(worker.snapshot.statistics.computed == 0)
    }

    @Test func aUnitHeldUntilItsLeaseNearlyEndsIsGivenBackAtACheckpointNotLeftToExpire() throws {
        // A 12 s lease: held from the start, the unit is given back 5 s before it ends, its checkpoint on disk.
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("colony-held-\(UUID())")
        defer { try? FileManager.default.removeItem(at: state) }
        let setup = try Setup(units: 1, leaseSeconds: 12) { $0.stateFolder = state }
        let worker = setup.worker
        #expect(setup.startComputing())
        #expect(setup.pauseAndHold())
        #expect(setup.until { $0.snapshot.statistics.heldGivenBack == 1 && $0.snapshot.running.isEmpty })
        #expect(worker.snapshot.statistics.computed == 0)
        // Released, not expired: the custodian leases the unit again at once, and the worker resumes it from the
        // checkpoint it saved when it gave the unit back.
        GateKernel.mayEnd.store(true, ordering: .relaxed)
        worker.resume()
        #expect(setup.until { $0.snapshot.statistics.computed == 1 })
        #expect(worker.snapshot.statistics.leases == 2)
        #expect(worker.snapshot.statistics.resumed == 1)
    }

    @Test func aUnitStillRunningWhenItsLeaseNearlyEndsIsGivenBackAtACheckpointAndResumed() throws {
        // A busy machine, not a hung kernel: the unit checkpoints as it goes but would not end within its 12 s
        // lease. It is stopped 5 s before the lease ends and given back, not run into the end of its lease (where
        // an isolated host is killed and the unit recorded as an error, which bars this worker from it for good).
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("colony-overrun-\(UUID())")
        defer { try? FileManager.default.removeItem(at: state) }
        let setup = try Setup(units: 1, leaseSeconds: 12) {
            $0.stateFolder = state
            $0.checkpointInterval = 0.5
        }
        let worker = setup.worker
        #expect(setup.startComputing())
        #expect(setup.until { $0.snapshot.statistics.overrunsGivenBack == 1 && $0.snapshot.running.isEmpty })
        #expect(worker.snapshot.statistics.heldGivenBack == 0)
        #expect(worker.snapshot.statistics.kernelErrors == 0)
        // Released: leased again at once, it resumes from the checkpoint it took when it was stopped.
        GateKernel.mayEnd.store(true, ordering: .relaxed)
        #expect(setup.until { $0.snapshot.statistics.computed == 1 })
        #expect(worker.snapshot.statistics.leases == 2)
        #expect(worker.snapshot.statistics.resumed == 1)
    }

    @Test func aUnitThatNeverEndsIsGivenBackOnlySoOftenThenRunsIntoItsLease() throws {
        // A kernel that checkpoints forever on its input must not keep a unit going round: after
        // `maxOverrunGiveBacks` give-backs, the next lease is not cut short (an isolated host is then killed when
        // the lease ends and the unit recorded as an error, `aHungUnitIsKilledWhenItsLeaseEndsAndTheWorkersGoOn`).
        let setup = try Setup(units: 1, leaseSeconds: 10) { $0.checkpointInterval = 0.2 }
        let worker = setup.worker
        #expect(setup.startComputing())
        let limit = SwarmWorker.maxOverrunGiveBacks
        #expect(setup.until {
            $0.snapshot.statistics.overrunsGivenBack == limit && $0.snapshot.statistics.leases == limit + 1
                && !$0.snapshot.running.isEmpty
        })
        // Its give-up time (5 s into the 10 s lease) and the lease's end pass with the unit still running.
        #expect(!worker.wait(until: { $0.snapshot.statistics.overrunsGivenBack > limit || $0.snapshot.running.isEmpty }, timeout: 11))
        #expect(worker.snapshot.statistics.kernelErrors == 0)
    }

    @Test func finishThenPauseWithNothingRunningPausesAtOnce() throws {
        let setup = try Setup(units: 1)
        setup.worker.finishThenPause()
        #expect(setup.worker.state == .paused)
        setup.worker.resume()
        #expect(setup.worker.state == .running)
    }
}
