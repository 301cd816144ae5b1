import Colony
import ColonyKernel
import Foundation

/// Tally with a cheap check (`verify`): the same units and outputs, so that a swarm test can set a kernel that has
/// a check against one that has none. Its check recomputes the square, which for tally costs what `run` does.
struct CheckedTallyKernel: ComputeKernel {
    static let name = "checked-tally"
    static let version = 1
    static let summary = "Tally, with a check of each output"
    static let parameters = TallyKernel.parameters

    func units(for parameters: KernelParameters) throws -> [Data] { try TallyKernel().units(for: parameters) }

    func run(_ input: Data, context: KernelContext) throws -> Data { try TallyKernel().run(input, context: context) }

    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        try TallyKernel().assemble(outputs, parameters: parameters, into: directory)
    }

    func verify(input: Data, output: Data, seed: UInt64) -> Bool? {
        (try? run(input, context: KernelContext(unit: 0))).map { $0 == output } ?? false
    }
}
