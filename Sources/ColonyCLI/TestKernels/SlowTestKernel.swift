import ColonyKernel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Mixes `steps` numbers into a hash, sleeping 20 ms per step and checkpointing at the host's cadence: a long unit
/// that costs no CPU, to be killed in the middle and resumed.
public struct SlowTestKernel: ComputeKernel {
    public static let name = "test-slow"
    public static let version = 1
    public static let summary = "Test only: a slow unit (20 ms per step) that checkpoints"
    public static let parameters = [
        KernelParameterInfo("count", "units, 1 to 100"), KernelParameterInfo("steps", "steps per unit, 1 to 100000"),
    ]

    struct Unit: Codable { var index: Int; var steps: Int }
    struct State: Codable { var next: Int; var hash: Int }

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let count = try parameters.int("count", in: 1...100)
        let steps = try parameters.int("steps", in: 1...100_000)
        return (0..<count).map { KernelCoding.encode(Unit(index: $0, steps: steps)) }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try IsolationTestKernels.decode(Unit.self, input, kernel: Self.name)
        var state = context.restore(State.self) ?? State(next: 0, hash: unit.index)
        while state.next < unit.steps {
            // The sleep is the kernel's work: a unit that takes a known wall time (20 ms a step), long enough for
            // tests to pause, kill or checkpoint it mid-unit, without loading the machine.
            var nap = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&nap, nil)
            // SplitMix64's finaliser: each step depends on all earlier ones, so a resumed run that skipped or
            // repeated a step would give another hash.
            var z = UInt64(bitPattern: Int64(state.hash)) &+ UInt64(state.next) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            state.hash = Int(Int64(bitPattern: (z ^ (z >> 31)) >> 1))
            state.next += 1
            try context.step(progress: Double(state.next) / Double(unit.steps)) { state }
        }
        return KernelCoding.encode(state.hash)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        try IsolationTestKernels.sum(outputs, kernel: Self.name)
    }
}
