import ColonyKernel
import Foundation
import Testing

struct EchoKernel: ComputeKernel {
    static let name = "echo"
    static let version = 3
    static let summary = "returns its input"
    static let parameters: [KernelParameterInfo] = []
    func units(for parameters: KernelParameters) throws -> [Data] { [Data([1])] }
    func run(_ input: Data, context: KernelContext) throws -> Data { input }
    func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        KernelSummary(values: ["units": .int(outputs.count)], headline: "echo")
    }
}

@Suite struct KernelRegistryTests {
    @Test func findsKernelsByName() {
        let registry = KernelRegistry([EchoKernel.self])
        #expect(registry.kernel(named: "echo") != nil)
        #expect(registry.kernel(named: "nope") == nil)
        #expect(registry.names == ["echo"])
        #expect(EchoKernel.label == "echo v3")
    }

    @Test func defaultEquivalenceIsByteEquality() {
        #expect(EchoKernel().equivalent(Data([1, 2]), Data([1, 2])))
        #expect(!EchoKernel().equivalent(Data([1, 2]), Data([1, 3])))
    }
}
