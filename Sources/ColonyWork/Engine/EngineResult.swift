import Foundation

/// How a run of the engine ended, with every output it has.
public struct EngineResult: Sendable {
    /// Outputs by unit index: present for every unit finished in this run or an earlier one.
    public var outputs: [Data?]
    /// Units computed to the end in this run.
    public var computed: Int
    /// Units whose output an earlier run had already stored.
    public var reused: Int
    /// Units that started from a checkpoint of an earlier run.
    public var resumed: Int
    /// The first unit that failed and why, when one did.
    public var failure: EngineFailure? { failures.first }
    /// Every unit that failed, in the order they failed; unless the engine was told to go on, only the first.
    public var failures: [EngineFailure]
    /// Whether `stop()` ended the run before every unit was done.
    public var interrupted: Bool
    /// Wall time of this run.
    public var elapsed: Duration

    /// Whether every unit has an output.
    public var isComplete: Bool { failure == nil && outputs.allSatisfy { $0 != nil } }

    /// Units with an output.
    public var finished: Int { outputs.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }
}

/// A unit whose kernel threw, or whose output could not be stored.
public struct EngineFailure: Error, CustomStringConvertible, Sendable {
    /// The unit's index.
    public var unit: Int
    /// What went wrong.
    public var reason: String

    /// A failure of `unit` for `reason`.
    public init(unit: Int, reason: String) {
        self.unit = unit
        self.reason = reason
    }

    public var description: String { "unit \(unit) failed: \(reason)" }
}

/// What the engine is doing right now, for progress displays.
public struct EngineSnapshot: Sendable {
    /// Units in the run.
    public var total: Int
    /// Units with an output, from this run or an earlier one.
    public var finished: Int
    /// Units finished by this run.
    public var computed: Int
    /// Units running now, each with its fraction done.
    public var running: [(unit: Int, progress: Double)]
    /// Time since the run started.
    public var elapsed: Duration

    /// A snapshot with these figures.
    public init(total: Int, finished: Int, computed: Int, running: [(unit: Int, progress: Double)], elapsed: Duration) {
        self.total = total
        self.finished = finished
        self.computed = computed
        self.running = running
        self.elapsed = elapsed
    }

    /// Units still to finish, counting the done fractions of running ones.
    public var remainingWork: Double {
        Double(total - finished) - running.reduce(0) { $0 + $1.progress }
    }

    /// Work done by this run, in units, counting the done fractions of running ones.
    public var workDone: Double {
        Double(computed) + running.reduce(0) { $0 + $1.progress }
    }
}

/// Something that happened to one unit during a run, for logs.
public enum EngineEvent: Sendable {
    /// A slot began the unit, from its checkpoint when `resumed`.
    case started(unit: Int, resumed: Bool)
    /// The unit's output is stored; `finished` of `total` units now have one.
    case finished(unit: Int, finished: Int, total: Int)
    /// The unit stopped at a checkpoint because the engine is stopping.
    case stopped(unit: Int)
    /// The unit failed.
    case failed(EngineFailure)
}
