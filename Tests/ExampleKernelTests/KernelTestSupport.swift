import ColonyKernel
import Foundation
import Synchronization

/// Runs kernels directly, with or without interruptions, for the example kernels' tests.
enum KernelHarness {
    /// Every unit of `parameters` run to the end, assembled into a temporary folder.
    static func runAll<Kernel: ComputeKernel>(_ kernel: Kernel, _ parameters: [String: JSONValue]) throws -> KernelSummary {
        let parameters = KernelParameters(parameters, source: "test.json")
        let outputs = try kernel.units(for: parameters).enumerated().map {
            try kernel.run($1, context: KernelContext(unit: $0))
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-kernel-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try kernel.assemble(outputs, parameters: parameters, into: folder)
    }

    /// Runs `input`, stopping it after every `stride` steps and resuming from the saved checkpoint each time, and
    /// returns the output and how many times it was stopped.
    static func runInterrupted<Kernel: ComputeKernel>(_ kernel: Kernel, _ input: Data, every stride: Int) throws -> (
        output: Data, interruptions: Int
    ) {
        var checkpoint: Data?
        var interruptions = 0
        while true {
            let steps = Atomic<Int>(0)
            let saved = Mutex<Data?>(nil)
            let hooks = KernelContextHooks(
                checkpointInterval: .seconds(3600),
                isStopping: { steps.add(1, ordering: .relaxed).newValue > stride },
                saveCheckpoint: { data in saved.withLock { $0 = data } })
            do {
                let output = try kernel.run(input, context: KernelContext(unit: 0, checkpoint: checkpoint, hooks: hooks))
                return (output, interruptions)
            } catch is KernelInterruption {
                interruptions += 1
                checkpoint = saved.withLock { $0 }
                precondition(checkpoint != nil, "an interruption must leave a checkpoint")
            }
        }
    }
}
