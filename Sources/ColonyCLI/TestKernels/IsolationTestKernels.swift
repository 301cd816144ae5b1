import ColonyKernel
import Foundation

/// Kernels that misbehave on purpose, for the isolation tests: one traps, one eats memory, one never returns,
/// one is slow enough to be killed in the middle. They are compiled into every binary built on ColonyCLI but
/// registered only when `COLONY_TEST_KERNELS=1` is in the environment, so no donor runs them by accident.
public enum IsolationTestKernels {
    /// The environment variable that registers them.
    public static let environmentVariable = "COLONY_TEST_KERNELS"

    /// Every test kernel.
    public static let all: [any ComputeKernel.Type] = [
        TrapTestKernel.self, MemoryHogTestKernel.self, HangTestKernel.self, SlowTestKernel.self,
    ]

    /// `kernels` plus the test kernels when `environment` asks for them.
    public static func adding(
        to kernels: [any ComputeKernel.Type], environment: [String: String]
    ) -> [any ComputeKernel.Type] {
        environment[environmentVariable] == "1" ? kernels + all : kernels
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, kernel: String) throws -> T {
        try KernelCoding.decode(type, from: data, kernel: kernel, what: "unit input")
    }

    static func sum(_ outputs: [Data], kernel: String) throws -> KernelSummary {
        let values = try outputs.map { try KernelCoding.decode(Int.self, from: $0, kernel: kernel, what: "output") }
        let total = values.reduce(0, &+)
        return KernelSummary(values: ["sum": .int(total), "units": .int(values.count)], headline: "sum = \(total)")
    }
}
