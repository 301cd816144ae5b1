import ColonyKernel
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a kernel's units in parallel on the donated cores.
///
/// The engine starts one slot per core, each on its own serial Dispatch queue; each slot takes the next
/// unfinished unit until none are left, so never more than `cores` kernels run at once and no slot idles while
/// work remains.
/// Finished outputs and checkpoints go to a `UnitStore`, so a run stopped by `stop()` (Ctrl-C) resumes where it
/// left off. Slots lower their threads to nice 19 unless told otherwise, and a CPU limit below 100% makes each
/// slot rest by duty cycle. With `isolation` set, each slot runs its units in a kernel host process of its own
/// (`UnitRunner`), so a unit that crashes, exhausts its memory or overruns its time limit fails alone.
public final class WorkerEngine: Sendable {
    /// How the engine uses the machine.
    public let configuration: EngineConfiguration

    private let stopping = Atomic<Bool>(false)
    private let live = Mutex<LiveRun?>(nil)

    /// An engine with a checked configuration.
    public init(configuration: EngineConfiguration = EngineConfiguration()) throws(EngineConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// Asks running kernels to save a checkpoint and return; `run` then returns with `interrupted` set.
    /// Safe to call from any thread, including a signal handler's queue. Once stopped, an engine stays stopped.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
    }

    /// Whether `stop()` has been called.
    public var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// The progress of the current run, or nil when none is running.
    public var snapshot: EngineSnapshot? {
        live.withLock { $0?.snapshot() }
    }

    /// Runs every unit that `store` has no output for and returns when all are done, one has failed, or
    /// `stop()` was called. Blocks the calling thread.
    ///
    /// `events`, when given, hears of every unit as it starts and ends, on the slot's thread.
    public func run(
        kernel: any ComputeKernel, units: [Data], store: any UnitStore,
        events: (@Sendable (EngineEvent) -> Void)? = nil
    ) -> EngineResult {
        let started = ContinuousClock.now
        var outputs = [Data?](repeating: nil, count: units.count)
        var pending: [Int] = []
        for unit in units.indices {
            if let output = try? store.output(unit: unit) {
                outputs[unit] = output
            } else {
                pending.append(unit)
            }
        }
        let run = LiveRun(
            total: units.count, reused: units.count - pending.count, outputs: outputs, events: events ?? { _ in })
        live.withLock { $0 = run }
        defer { live.withLock { $0 = nil } }

        let slots = min(configuration.cores, pending.count)
        let pendingUnits = pending
        let group = DispatchGroup()
        let writer = OutputWriter(store: store, run: run, onFailure: { [weak self] in self?.stop() })
        for slot in 0..<slots {
            // One serial queue per slot, not one concurrent queue: a concurrent queue draws on Dispatch's shared
            // pool, which is as wide as the machine, so `--cores 3` on two CPUs ran only two kernels, and
            // long-running kernels would starve the process's other Dispatch work (measured, see
            // WorkerEngineTests). A serial queue gets a thread of its own.
            let queue = DispatchQueue(label: "colony.engine.slot-\(slot)", qos: .utility)
            queue.async(group: group) {
                self.runSlot(kernel: kernel, units: units, pending: pendingUnits, store: store, run: run, writer: writer)
            }
        }
        group.wait()
        writer.drain()
        return run.result(elapsed: ContinuousClock.now - started, interrupted: isStopping)
    }

    private func runSlot(
        kernel: any ComputeKernel, units: [Data], pending: [Int], store: any UnitStore, run: LiveRun,
        writer: OutputWriter
    ) {
        let restorePriority = configuration.lowPriority ? Self.lowerThreadPriority() : nil
        defer { restorePriority?() }
        let isStopping: @Sendable () -> Bool = { [stopping = self] in stopping.isStopping }
        let runner = UnitRunner(
            isolation: configuration.isolation, lowPriority: configuration.lowPriority,
            cpuLimit: configuration.cpuLimit, dutyCycleWindow: configuration.dutyCycleWindow)
        defer { runner.close() }
        var pace: @Sendable () -> Void = {}
        var cycle: DutyCycle?
        // In-process, the kernel rests at `context.step`; isolated, the runner stops and continues its host, which
        // holds a kernel that never calls `step` to the limit too.
        var hold: UnitHold?
        if configuration.cpuLimit < 100, !runner.isIsolated {
            let limited = DutyCycle(
                percent: configuration.cpuLimit, window: configuration.dutyCycleWindow, isStopping: isStopping)
            cycle = limited
            pace = { limited.pace() }
        } else if configuration.cpuLimit < 100 {
            hold = UnitHold(isPaused: { false }, cpuPercent: { [limit = configuration.cpuLimit] in limit })
        }
        while !self.isStopping, let index = run.takeNext(of: pending.count) {
            let unit = pending[index]
            cycle?.restart()
            let checkpoint = try? store.checkpoint(unit: unit)
            let hooks = KernelContextHooks(
                checkpointInterval: configuration.checkpointInterval,
                isStopping: isStopping,
                saveCheckpoint: { try store.saveCheckpoint($0, unit: unit) },
                pace: pace
            )
            let context = KernelContext(unit: unit, checkpoint: checkpoint, hooks: hooks)
            run.started(context, resumed: checkpoint != nil)
            let deadline = configuration.unitTimeLimit.map { ContinuousClock.now + $0 }
            switch runner.run(
                kernel: kernel, input: units[unit], context: context, hooks: hooks, deadline: deadline, hold: hold)
            {
            case .output(let output):
                run.computed(unit: unit, output: output)
                writer.save(output, unit: unit)
            case .interrupted:
                run.abandoned(unit: unit)
            case .failed(let reason):
                run.failed(EngineFailure(unit: unit, reason: reason))
                if configuration.stopAtFirstFailure { stop() }
            }
        }
    }

    /// Lowers the calling thread to nice 19 and returns a closure that puts it back. On Linux the nice value
    /// belongs to the thread, so this leaves the rest of the process alone. Putting it back needs privilege;
    /// without it the pooled thread stays at nice 19, which only ever makes later work on it politer.
    public static func lowerThreadPriority() -> (() -> Void)? {
        #if os(Linux)
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let previous = getpriority(which, 0)
        guard errno == 0, previous < 19 else { return nil }
        guard setpriority(which, 0, 19) == 0 else { return nil }
        return { _ = setpriority(which, 0, previous) }
        #else
        return nil
        #endif
    }
}

/// The shared state of one engine run: which unit is next, what is running, what has finished.
private final class LiveRun: Sendable {
    private struct State {
        var outputs: [Data?]
        var running: [Int: KernelContext] = [:]
        var computed = 0
        var stored = 0
        var resumed = 0
        var failures: [EngineFailure] = []
    }

    private let total: Int
    private let reused: Int
    private let events: @Sendable (EngineEvent) -> Void
    private let started = ContinuousClock.now
    private let nextIndex = Atomic<Int>(0)
    private let state: Mutex<State>

    init(total: Int, reused: Int, outputs: [Data?], events: @escaping @Sendable (EngineEvent) -> Void) {
        self.total = total
        self.reused = reused
        self.events = events
        self.state = Mutex(State(outputs: outputs))
    }

    func takeNext(of count: Int) -> Int? {
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < count ? index : nil
    }

    func started(_ context: KernelContext, resumed: Bool) {
        state.withLock {
            $0.running[context.unit] = context
            if resumed { $0.resumed += 1 }
        }
        events(.started(unit: context.unit, resumed: resumed))
    }

    /// The kernel returned `output`; it is not stored yet.
    func computed(unit: Int, output: Data) {
        state.withLock {
            $0.running[unit] = nil
            $0.outputs[unit] = output
            $0.computed += 1
        }
    }

    /// The unit's output is stored: it survives a crash from now on.
    func stored(unit: Int) {
        let stored = state.withLock {
            $0.stored += 1
            return reused + $0.stored
        }
        events(.finished(unit: unit, finished: stored, total: total))
    }

    func abandoned(unit: Int) {
        state.withLock { _ = $0.running.removeValue(forKey: unit) }
        events(.stopped(unit: unit))
    }

    func failed(_ failure: EngineFailure) {
        state.withLock {
            $0.running[failure.unit] = nil
            $0.failures.append(failure)
        }
        events(.failed(failure))
    }

    func snapshot() -> EngineSnapshot {
        state.withLock { state in
            EngineSnapshot(
                total: total, finished: reused + state.computed, computed: state.computed,
                running: state.running.keys.sorted().map { ($0, state.running[$0]!.progress) },
                elapsed: ContinuousClock.now - started)
        }
    }

    func result(elapsed: Duration, interrupted: Bool) -> EngineResult {
        state.withLock { state in
            EngineResult(
                outputs: state.outputs, computed: state.computed, reused: reused, resumed: state.resumed,
                failures: state.failures, interrupted: interrupted && state.failures.isEmpty, elapsed: elapsed)
        }
    }
}

/// Stores finished outputs on a queue of its own, so that slots go on to their next unit instead of waiting for
/// fsync: with 200 units of a few milliseconds each, writing on the slots' threads cost 5% of the run's time
/// (measured with `colony bench engine --kernel primes`, disk store against memory store). `run` drains the
/// writer before it returns, so a finished or stopped run has every output on disk; a `kill -9` can lose only
/// the outputs still queued, which the next run computes again.
private final class OutputWriter: Sendable {
    private let queue = DispatchQueue(label: "colony.engine.writer", qos: .utility)
    private let group = DispatchGroup()
    private let store: any UnitStore
    private let run: LiveRun
    private let onFailure: @Sendable () -> Void

    init(store: any UnitStore, run: LiveRun, onFailure: @escaping @Sendable () -> Void) {
        self.store = store
        self.run = run
        self.onFailure = onFailure
    }

    func save(_ output: Data, unit: Int) {
        queue.async(group: group) { [store, run, onFailure] in
            do {
                try store.saveOutput(output, unit: unit)
                run.stored(unit: unit)
            } catch {
                run.failed(EngineFailure(unit: unit, reason: "its output could not be stored: \(error)"))
                onFailure()
            }
        }
    }

    /// Waits until every queued output is stored.
    func drain() { group.wait() }
}
