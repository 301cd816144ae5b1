import ColonyCore
import ColonyKernel
import Foundation

/// Runs a whole job on this machine: every unit through the engine, then the kernel's assembly.
///
/// Outputs and checkpoints live in the data directory until the result is assembled, so a run stopped with
/// Ctrl-C and started again with the same spec continues where it stopped.
public struct LocalRun: Sendable {
    /// The job.
    public let job: PreparedJob
    /// Where unit outputs and checkpoints are kept between runs.
    public let store: RunStore
    /// Where the assembled result goes.
    public let outputFolder: URL

    /// A run of `job` keeping its state in `dataDirectory` and writing its result into `outputFolder`.
    public init(job: PreparedJob, dataDirectory: DataDirectory, outputFolder: URL) throws {
        self.job = job
        self.store = try RunStore(dataDirectory: dataDirectory, workID: job.workID)
        self.outputFolder = outputFolder
    }

    /// Units already finished, and units with a checkpoint, from earlier runs.
    public var earlierProgress: (finished: Int, checkpointed: Int) {
        let counts = store.counts()
        return (counts.outputs, counts.checkpoints)
    }

    /// Computes what is left and, when every unit is done, assembles the result and clears the stored state.
    public func execute(
        with engine: WorkerEngine, events: (@Sendable (EngineEvent) -> Void)? = nil
    ) throws -> LocalRunResult {
        let result = engine.run(kernel: job.kernel, units: job.units, store: store, events: events)
        guard result.isComplete else { return LocalRunResult(engine: result, summary: nil) }
        try AtomicFile.createFolder(outputFolder)
        let outputs = result.outputs.map { $0! }
        let summary = try job.kernel.assemble(outputs, parameters: job.spec.parameters, into: outputFolder)
        try store.remove()
        return LocalRunResult(engine: result, summary: summary)
    }
}

/// What a local run produced.
public struct LocalRunResult: Sendable {
    /// How the engine's run ended.
    public var engine: EngineResult
    /// The assembled result, when every unit finished.
    public var summary: KernelSummary?
}
