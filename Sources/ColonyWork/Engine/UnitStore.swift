import Foundation
import Synchronization

/// Where the engine keeps finished outputs and checkpoints, so an interrupted run resumes where it stopped.
///
/// The contract: once `saveOutput` returns, the output survives a crash and the unit's checkpoint is gone;
/// once `saveCheckpoint` returns, the checkpoint survives a crash.
public protocol UnitStore: Sendable {
    /// The output of a unit finished in an earlier run, if any.
    func output(unit: Int) throws -> Data?
    /// The last checkpoint of an unfinished unit, if any.
    func checkpoint(unit: Int) throws -> Data?
    /// Records a finished unit's output and drops its checkpoint.
    func saveOutput(_ output: Data, unit: Int) throws
    /// Records a checkpoint of an unfinished unit.
    func saveCheckpoint(_ checkpoint: Data, unit: Int) throws
}

/// A `UnitStore` in memory: for tests and benchmarks, where nothing needs to outlive the process.
public final class MemoryUnitStore: UnitStore {
    private let state = Mutex<(outputs: [Int: Data], checkpoints: [Int: Data], checkpointWrites: Int)>(
        ([:], [:], 0))

    /// An empty store.
    public init() {}

    public func output(unit: Int) -> Data? { state.withLock { $0.outputs[unit] } }

    public func checkpoint(unit: Int) -> Data? { state.withLock { $0.checkpoints[unit] } }

    public func saveOutput(_ output: Data, unit: Int) {
        state.withLock {
            $0.outputs[unit] = output
            $0.checkpoints[unit] = nil
        }
    }

    public func saveCheckpoint(_ checkpoint: Data, unit: Int) {
        state.withLock {
            $0.checkpoints[unit] = checkpoint
            $0.checkpointWrites += 1
        }
    }

    /// The units with a stored checkpoint.
    public var checkpointedUnits: Set<Int> { state.withLock { Set($0.checkpoints.keys) } }

    /// How many checkpoints were saved in all.
    public var checkpointWrites: Int { state.withLock { $0.checkpointWrites } }
}
