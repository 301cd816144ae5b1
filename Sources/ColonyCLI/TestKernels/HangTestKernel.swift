import ColonyKernel
import Foundation
import Synchronization

/// Returns each unit's index, except that units marked to hang spin forever without calling `context.step`.
public struct HangTestKernel: ComputeKernel {
    public static let name = "test-hang"
    public static let version = 1
    public static let summary = "Test only: returns each unit's index; every hangEvery-th unit never returns"
    public static let parameters = [
        KernelParameterInfo("count", "units, 1 to 1000"),
        KernelParameterInfo("hangEvery", "hang on units whose index is a multiple of this, 1 to 1000"),
    ]

    struct Unit: Codable { var index: Int; var hang: Bool }
    /// Where the endless loop writes, so the compiler keeps it.
    private static let spins = Atomic<UInt64>(0)

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let count = try parameters.int("count", in: 1...1000)
        let every = try parameters.int("hangEvery", in: 1...1000)
        return (0..<count).map { KernelCoding.encode(Unit(index: $0, hang: $0 % every == 0)) }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try IsolationTestKernels.decode(Unit.self, input, kernel: Self.name)
        while unit.hang { Self.spins.add(1, ordering: .relaxed) }
        return KernelCoding.encode(unit.index)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        try IsolationTestKernels.sum(outputs, kernel: Self.name)
    }
}
