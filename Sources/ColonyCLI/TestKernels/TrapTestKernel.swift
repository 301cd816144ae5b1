import ColonyKernel
import Foundation

/// Squares unit indices, but traps (an array index out of range) on every `trapEvery`-th one.
public struct TrapTestKernel: ComputeKernel {
    public static let name = "test-trap"
    public static let version = 1
    public static let summary = "Test only: squares each unit's index, trapping on every trapEvery-th unit"
    public static let parameters = [
        KernelParameterInfo("count", "units, 1 to 100000"),
        KernelParameterInfo("trapEvery", "trap on units whose index is a multiple of this, 1 to 100000"),
    ]

    struct Unit: Codable { var index: Int; var trap: Bool }

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let count = try parameters.int("count", in: 1...100_000)
        let every = try parameters.int("trapEvery", in: 1...100_000)
        return (0..<count).map { KernelCoding.encode(Unit(index: $0, trap: $0 % every == 0)) }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try IsolationTestKernels.decode(Unit.self, input, kernel: Self.name)
        let squares = [unit.index &* unit.index]
        // Out of range on purpose: the same trap a kernel bug would hit.
        return KernelCoding.encode(squares[unit.trap ? squares.count + unit.index : 0])
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        try IsolationTestKernels.sum(outputs, kernel: Self.name)
    }
}
