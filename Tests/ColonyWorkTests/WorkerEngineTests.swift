import ColonyCore
import ColonyKernel
import Foundation
import Synchronization
import Testing

@testable import ColonyWork

@Suite struct WorkerEngineTests {
    func units(_ count: Int, steps: Int = 200) -> [Data] {
        (0..<count).map { KernelCoding.encode(StepperKernel.Unit(index: $0, steps: steps)) }
    }

    func engine(cores: Int, lowPriority: Bool = true, cpuLimit: Int = 100) throws -> WorkerEngine {
        var configuration = EngineConfiguration()
        configuration.cores = cores
        configuration.lowPriority = lowPriority
        configuration.cpuLimit = cpuLimit
        return try WorkerEngine(configuration: configuration)
    }

    /// The outputs of running every unit directly, one after another.
    func reference(_ units: [Data]) throws -> [Data] {
        try units.enumerated().map { try StepperKernel().run($1, context: KernelContext(unit: $0)) }
    }

    @Test(arguments: [1, 2, 3])
    func runsEveryUnitAndNeverMoreThanCoresAtOnce(cores: Int) throws {
        // The first `cores` units wait until `cores` units run at once (3 on a 2-CPU machine too: each slot
        // has a thread of its own).
        let probe = Probe(rendezvous: cores)
        let work = units(24)
        let result = try engine(cores: cores).run(kernel: StepperKernel(probe: probe), units: work, store: MemoryUnitStore())
        #expect(result.isComplete)
        #expect(result.computed == 24)
        #expect(result.outputs.map { $0! } == (try reference(work)))
        #expect(probe.mostRunning.load(ordering: .relaxed) == cores)
    }

    @Test func kernelsRunAtNiceNineteenByDefault() throws {
        let probe = Probe()
        _ = try engine(cores: 2).run(kernel: StepperKernel(probe: probe), units: units(4), store: MemoryUnitStore())
        #if os(Linux)
        #expect(probe.niceValues.withLock { $0 } == [19])
        #endif
    }

    @Test func stopSavesCheckpointsAndARerunResumesToTheSameOutputs() throws {
        let work = units(6, steps: 1000)
        // Unit 0 finishes only once unit 1 is running, and finishing it stops the engine; unit 1 holds halfway
        // until then, so it is stopped mid-way and must leave a checkpoint.
        let probe = Probe(waits: [0: 1], holds: [1])
        let store = MemoryUnitStore()
        let first = try engine(cores: 2)
        let stopped = first.run(kernel: StepperKernel(probe: probe), units: work, store: store) { event in
            if case .finished(unit: 0, _, _) = event { first.stop() }
        }
        #expect(stopped.interrupted)
        #expect(!stopped.isComplete)
        #expect(stopped.outputs[0] != nil)
        #expect(store.checkpointedUnits.contains(1))

        let second = try engine(cores: 2).run(kernel: StepperKernel(), units: work, store: store)
        #expect(second.isComplete)
        #expect(second.reused == stopped.finished)
        #expect(second.resumed >= 1)
        #expect(second.outputs.map { $0! } == (try reference(work)))
        #expect(store.checkpointedUnits.isEmpty)
    }

    @Test func aFailingUnitStopsTheRunAndIsReported() throws {
        let probe = Probe(failingUnit: 3)
        let result = try engine(cores: 1).run(kernel: StepperKernel(probe: probe), units: units(8), store: MemoryUnitStore())
        #expect(result.failure?.unit == 3)
        #expect(!result.isComplete)
        #expect(!result.interrupted)
        #expect(result.outputs[0..<3].allSatisfy { $0 != nil })
    }

    /// A store whose disk is full for one unit.
    final class FailingStore: UnitStore {
        let inner = MemoryUnitStore()
        func output(unit: Int) -> Data? { inner.output(unit: unit) }
        func checkpoint(unit: Int) -> Data? { inner.checkpoint(unit: unit) }
        func saveCheckpoint(_ checkpoint: Data, unit: Int) { inner.saveCheckpoint(checkpoint, unit: unit) }
        func saveOutput(_ output: Data, unit: Int) throws {
            if unit == 2 { throw FileSystemError(path: "/full/unit-000002.out", action: "write", code: ENOSPC) }
            inner.saveOutput(output, unit: unit)
        }
    }

    @Test func anOutputThatCannotBeStoredFailsTheRun() throws {
        let store = FailingStore()
        let result = try engine(cores: 1).run(kernel: StepperKernel(), units: units(6), store: store)
        #expect(result.failure?.unit == 2)
        #expect(result.failure?.reason.hasPrefix("its output could not be stored: /full/unit-000002.out") == true)
        #expect(!result.isComplete)
        #expect(store.output(unit: 2) == nil)
    }

    @Test func everyOutputIsStoredWhenRunReturns() throws {
        let store = MemoryUnitStore()
        let work = units(12)
        let finished = Mutex<[Int]>([])
        let result = try engine(cores: 2).run(kernel: StepperKernel(), units: work, store: store) { event in
            if case .finished(let unit, _, _) = event { finished.withLock { $0.append(unit) } }
        }
        #expect(result.isComplete)
        #expect((0..<12).allSatisfy { store.output(unit: $0) == result.outputs[$0] })
        #expect(finished.withLock { $0.sorted() } == Array(0..<12))
    }

    @Test func aCPULimitStillComputesTheSameOutputs() throws {
        let work = units(4, steps: 2000)
        let result = try engine(cores: 2, cpuLimit: 30).run(kernel: StepperKernel(), units: work, store: MemoryUnitStore())
        #expect(result.outputs.map { $0! } == (try reference(work)))
    }

    @Test func snapshotIsNilOutsideARun() throws {
        let engine = try engine(cores: 1)
        #expect(engine.snapshot == nil)
        let seen = Mutex<EngineSnapshot?>(nil)
        _ = engine.run(kernel: StepperKernel(), units: units(2), store: MemoryUnitStore()) { event in
            if case .started = event, let snapshot = engine.snapshot { seen.withLock { $0 = snapshot } }
        }
        #expect(seen.withLock { $0 }?.total == 2)
    }

    @Test(arguments: [(0, "cores"), (2000, "cores")])
    func badCoreCountsAreRefused(cores: Int, field: String) {
        var configuration = EngineConfiguration()
        configuration.cores = cores
        let error = #expect(throws: EngineConfigurationError.self) { try configuration.validate() }
        #expect(error?.field == field)
    }

    @Test(arguments: [0, 101])
    func badCPULimitsAreRefused(limit: Int) {
        var configuration = EngineConfiguration()
        configuration.cpuLimit = limit
        #expect(throws: EngineConfigurationError.self) { try configuration.validate() }
    }
}

@Suite struct DutyCycleTests {
    /// A clock that only moves when told, and a sleep that moves it.
    final class FakeTime: Sendable {
        let nanos = Atomic<UInt64>(0)
        let slept = Atomic<UInt64>(0)
        func advance(_ amount: UInt64) { nanos.add(amount, ordering: .relaxed) }
        func sleep(_ amount: UInt64) {
            slept.add(amount, ordering: .relaxed)
            advance(amount)
        }
    }

    @Test(arguments: [10, 25, 50, 75, 90])
    func restsInProportionToTheLimit(percent: Int) {
        let time = FakeTime()
        let cycle = DutyCycle(
            percent: percent, window: .milliseconds(100), isStopping: { false },
            now: { time.nanos.load(ordering: .relaxed) }, sleep: { time.sleep($0) })
        // Ten seconds of work in 1 ms steps.
        for _ in 0..<10_000 {
            time.advance(1_000_000)
            cycle.pace()
        }
        let worked = 10_000_000_000.0
        let share = worked / Double(time.nanos.load(ordering: .relaxed))
        #expect(abs(share - Double(percent) / 100) < 0.02)
    }

    @Test func doesNotRestBeforeItsShareIsUsed() {
        let time = FakeTime()
        let cycle = DutyCycle(
            percent: 50, window: .milliseconds(100), isStopping: { false },
            now: { time.nanos.load(ordering: .relaxed) }, sleep: { time.sleep($0) })
        time.advance(49_000_000)
        cycle.pace()
        #expect(time.slept.load(ordering: .relaxed) == 0)
        time.advance(1_000_000)
        cycle.pace()
        #expect(time.slept.load(ordering: .relaxed) == 50_000_000)
    }

    @Test func timeIdleOrHeldIsNotOwedOnceRestarted() {
        let time = FakeTime()
        let cycle = DutyCycle(
            percent: 25, window: .milliseconds(100), isStopping: { false },
            now: { time.nanos.load(ordering: .relaxed) }, sleep: { time.sleep($0) })
        // Ten hours held (a time window closed overnight), then the unit goes on: restarted, it owes nothing.
        time.advance(36_000_000_000_000)
        cycle.restart()
        time.advance(1_000_000)
        cycle.pace()
        #expect(time.slept.load(ordering: .relaxed) == 0)
    }

    @Test func raisingTheLimitToAHundredEndsARest() {
        let time = FakeTime()
        let limit = Atomic<Int>(10)
        let cycle = DutyCycle(
            percent: { limit.load(ordering: .relaxed) }, window: .milliseconds(100),
            isStopping: { false }, now: { time.nanos.load(ordering: .relaxed) },
            sleep: {
                time.sleep($0)
                limit.store(100, ordering: .relaxed)   // the donor's edit arrives during the first slice
            })
        time.advance(10_000_000)
        cycle.pace()
        #expect(time.slept.load(ordering: .relaxed) == DutyCycle.restSlice)
    }

    @Test func stoppingCutsTheRestShort() {
        let time = FakeTime()
        let cycle = DutyCycle(
            percent: 1, window: .milliseconds(100), isStopping: { time.slept.load(ordering: .relaxed) > 0 },
            now: { time.nanos.load(ordering: .relaxed) }, sleep: { time.sleep($0) })
        time.advance(1_000_000)
        cycle.pace()
        #expect(time.slept.load(ordering: .relaxed) == DutyCycle.restSlice)
    }
}
