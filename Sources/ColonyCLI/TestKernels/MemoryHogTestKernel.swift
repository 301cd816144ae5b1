import ColonyKernel
import Foundation

/// Allocates and touches memory 8 MiB at a time until it holds `megabytes`, then frees it and returns the size.
public struct MemoryHogTestKernel: ComputeKernel {
    public static let name = "test-hog"
    public static let version = 1
    public static let summary = "Test only: allocates and touches megabytes of memory"
    public static let parameters = [KernelParameterInfo("megabytes", "memory per unit, 8 to 65536")]

    struct Unit: Codable { var megabytes: Int }
    static let chunk = 8 << 20

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        [KernelCoding.encode(Unit(megabytes: try parameters.int("megabytes", in: 8...65_536)))]
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try IsolationTestKernels.decode(Unit.self, input, kernel: Self.name)
        let chunks = unit.megabytes / 8
        var held: [UnsafeMutableRawPointer] = []
        defer { for pointer in held { pointer.deallocate() } }
        for index in 0..<chunks {
            let pointer = UnsafeMutableRawPointer.allocate(byteCount: Self.chunk, alignment: 16)
            pointer.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: index), count: Self.chunk)
            held.append(pointer)
            try context.step(progress: Double(index + 1) / Double(chunks)) { KernelCoding.encode(index) }
        }
        return KernelCoding.encode(held.count * 8)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        try IsolationTestKernels.sum(outputs, kernel: Self.name)
    }
}
