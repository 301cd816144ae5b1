import Foundation
import Synchronization

/// What a running kernel sees of its host: where to report progress, where checkpoints go, when to stop.
///
/// A kernel's loop calls `step` every few milliseconds of work:
///
///     var state = context.restore(State.self) ?? State(start: input.from)
///     while state.next < input.to {
///         … advance state …
///         try context.step(progress: state.fraction) { state }
///     }
///
/// `step` takes the checkpoint lazily: the closure runs only when a checkpoint is due (every
/// `checkpointInterval`) or when the host is stopping, in which case `step` saves it and throws
/// `KernelInterruption`. `step` is also where the host enforces a CPU limit, by pausing the thread.
public final class KernelContext: Sendable {
    /// The index of the unit being computed.
    public let unit: Int
    /// The checkpoint this unit was last stopped at, if any; `restore` decodes it.
    public let checkpoint: Data?

    private let hooks: KernelContextHooks
    private let progressBits = Atomic<UInt64>(0)
    private let lastCheckpointNanos: Atomic<UInt64>

    /// A context for `unit`, resuming from `checkpoint` when given, served by `hooks`.
    public init(unit: Int, checkpoint: Data? = nil, hooks: KernelContextHooks = .standalone) {
        self.unit = unit
        self.checkpoint = checkpoint
        self.hooks = hooks
        self.lastCheckpointNanos = Atomic(DispatchTime.now().uptimeNanoseconds)
    }

    /// The fraction of the unit done, as last reported (0…1).
    public var progress: Double { Double(bitPattern: progressBits.load(ordering: .relaxed)) }

    /// Whether the host wants the kernel to stop.
    public var isStopping: Bool { hooks.isStopping() }

    /// Records progress (clamped to 0…1) without checkpointing or pausing.
    public func report(progress fraction: Double) {
        let clamped = fraction.isFinite ? min(max(fraction, 0), 1) : 0
        progressBits.store(clamped.bitPattern, ordering: .relaxed)
    }

    /// Reports progress, pauses if a CPU limit asks for it, saves a checkpoint when one is due, and throws
    /// `KernelInterruption` (after saving the checkpoint) when the host is stopping.
    public func step(progress fraction: Double, checkpoint: () throws -> Data) throws {
        report(progress: fraction)
        hooks.pace()
        if hooks.isStopping() {
            try hooks.saveCheckpoint(checkpoint())
            throw KernelInterruption(unit: unit)
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let last = lastCheckpointNanos.load(ordering: .relaxed)
        if now &- last >= hooks.checkpointIntervalNanos {
            try hooks.saveCheckpoint(checkpoint())
            lastCheckpointNanos.store(now, ordering: .relaxed)
        }
    }

    /// `step` with a `Codable` state, encoded as canonical JSON when a checkpoint is due.
    public func step<State: Encodable>(progress fraction: Double, state: () -> State) throws {
        try step(progress: fraction) { KernelCoding.encode(state()) }
    }

    /// The checkpoint decoded as `State`, or nil when there is none or it cannot be read (then the unit
    /// starts over, which is always correct, only slower).
    public func restore<State: Decodable>(_ type: State.Type) -> State? {
        guard let checkpoint else { return nil }
        return try? JSONDecoder().decode(type, from: checkpoint)
    }

    /// Throws `KernelInterruption` when the host is stopping, without saving a checkpoint.
    public func checkCancellation() throws(KernelInterruption) {
        if hooks.isStopping() { throw KernelInterruption(unit: unit) }
    }
}

/// The host's side of a `KernelContext`: the engine supplies these; tests supply their own.
public struct KernelContextHooks: Sendable {
    /// Whether the kernel should stop (Ctrl-C, a lease given up, a failed sibling unit).
    public var isStopping: @Sendable () -> Bool
    /// Stores a checkpoint for the unit, durably.
    public var saveCheckpoint: @Sendable (Data) throws -> Void
    /// Called at every step; may block the calling thread to keep within a CPU limit.
    public var pace: @Sendable () -> Void
    /// How often `step` takes a checkpoint while running normally.
    public var checkpointInterval: Duration

    var checkpointIntervalNanos: UInt64 {
        let (seconds, attoseconds) = checkpointInterval.components
        return UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds / 1_000_000_000))
    }

    /// Hooks made of the given closures.
    public init(
        checkpointInterval: Duration = .seconds(30),
        isStopping: @escaping @Sendable () -> Bool,
        saveCheckpoint: @escaping @Sendable (Data) throws -> Void,
        pace: @escaping @Sendable () -> Void = {}
    ) {
        self.checkpointInterval = checkpointInterval
        self.isStopping = isStopping
        self.saveCheckpoint = saveCheckpoint
        self.pace = pace
    }

    /// Never stops, never pauses, and drops checkpoints: for running a kernel directly.
    public static var standalone: KernelContextHooks {
        KernelContextHooks(checkpointInterval: .seconds(3600), isStopping: { false }, saveCheckpoint: { _ in })
    }
}
