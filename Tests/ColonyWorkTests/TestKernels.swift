import ColonyKernel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What the test kernels observe while the engine runs them.
final class Probe: Sendable {
    let running = Atomic<Int>(0)
    let mostRunning = Atomic<Int>(0)
    let niceValues = Mutex<Set<Int32>>([])
    let started = Mutex<Set<Int>>([])
    /// Units whose `run` waits until these other units have started.
    let waits: [Int: Int]
    /// The unit that throws.
    let failingUnit: Int?
    /// Units that, halfway through, wait for the engine to stop them.
    let holds: Set<Int>
    /// The first `rendezvous` units each wait until that many units are running at once.
    let rendezvous: Int

    init(waits: [Int: Int] = [:], failingUnit: Int? = nil, holds: Set<Int> = [], rendezvous: Int = 0) {
        self.waits = waits
        self.rendezvous = rendezvous
        self.failingUnit = failingUnit
        self.holds = holds
    }

    func enter(_ unit: Int) {
        let now = running.add(1, ordering: .relaxed).newValue
        var seen = mostRunning.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = mostRunning.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
        started.withLock { _ = $0.insert(unit) }
        #if os(Linux)
        errno = 0
        let nice = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        niceValues.withLock { _ = $0.insert(nice) }
        #endif
    }

    func leave() { running.subtract(1, ordering: .relaxed) }

    /// Blocks until `count` units run at once; the guard keeps a broken engine from hanging the run forever.
    func waitUntilRunning(_ count: Int) {
        let deadline = Date().addingTimeInterval(30)
        while mostRunning.load(ordering: .relaxed) < count, Date() < deadline { sched_yield() }
    }

    /// Blocks until `unit` has started; the guard keeps a broken engine from hanging the test run forever.
    func waitUntilStarted(_ unit: Int) {
        let deadline = Date().addingTimeInterval(30)
        while !started.withLock({ $0.contains(unit) }), Date() < deadline { sched_yield() }
    }
}

/// Folds `steps` numbers into an accumulator, a step at a time, with checkpoints: a deterministic result that an
/// interruption must not change.
struct StepperKernel: ComputeKernel {
    static let name = "stepper"
    static let version = 1
    static let summary = "a test kernel"
    static let parameters = [KernelParameterInfo("units", ""), KernelParameterInfo("steps", "")]

    struct Unit: Codable { var index: Int; var steps: Int }
    struct State: Codable { var next: Int; var accumulator: UInt64 }
    struct TestFailure: Error {}

    let probe: Probe

    init() { probe = Probe() }
    init(probe: Probe) { self.probe = probe }

    func units(for parameters: KernelParameters) throws -> [Data] {
        let count = try parameters.int("units", in: 0...10_000)
        let steps = try parameters.int("steps", default: 100, in: 1...100_000_000)
        return (0..<count).map { KernelCoding.encode(Unit(index: $0, steps: steps)) }
    }

    func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        probe.enter(unit.index)
        defer { probe.leave() }
        if let other = probe.waits[unit.index] { probe.waitUntilStarted(other) }
        if unit.index < probe.rendezvous { probe.waitUntilRunning(probe.rendezvous) }
        if unit.index == probe.failingUnit { throw TestFailure() }
        var state = context.restore(State.self) ?? State(next: 0, accumulator: UInt64(unit.index))
        while state.next < unit.steps {
            if state.next == unit.steps / 2, probe.holds.contains(unit.index) {
                // Keep stepping in place until the engine stops this unit (step then throws).
                let deadline = Date().addingTimeInterval(30)
                while Date() < deadline { try context.step(progress: 0.5) { state } }
            }
            state.accumulator = state.accumulator &* 6_364_136_223_846_793_005 &+ UInt64(state.next)
            state.next += 1
            try context.step(progress: Double(state.next) / Double(unit.steps)) { state }
        }
        return KernelCoding.encode(state.accumulator)
    }

    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        let values = try outputs.map { try KernelCoding.decode(UInt64.self, from: $0, kernel: Self.name, what: "output") }
        let folded = values.reduce(0, ^)
        let file = directory.appendingPathComponent("fold.txt")
        try Data(String(folded).utf8).write(to: file)
        return KernelSummary(values: ["fold": .int(Int(truncatingIfNeeded: folded))], files: [file], headline: "fold \(folded)")
    }
}
