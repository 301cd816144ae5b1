import ColonyKernel
import Foundation

/// Sums the squares of the integers below n: the kernel of README.md's "Writing a kernel", compiled and tested.
public struct SquaresKernel: ComputeKernel {
    public static let name = "squares"
    public static let version = 1          // bump whenever outputs change
    public static let summary = "Sums the squares of the integers below n"
    public static let parameters = [KernelParameterInfo("n", "sum squares below n, 1 to 10^12 (required)")]

    struct Unit: Codable { var from: Int; var to: Int }
    struct State: Codable { var next: Int; var sum: UInt64 }
    static let maximumN = 1_000_000_000_000, perUnit = 1_000_000

    public init() {}

    // Publisher side: parameters → unit inputs. Errors name the field.
    public func units(for parameters: KernelParameters) throws -> [Data] {
        let n = try parameters.int("n", in: 1...Self.maximumN)
        return stride(from: 0, to: n, by: Self.perUnit).map {
            KernelCoding.encode(Unit(from: $0, to: min(n, $0 + Self.perUnit)))
        }
    }

    // Worker side: one unit. Call context.step often; it checkpoints, honours --cpu-limit and Ctrl-C.
    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        // Unit bytes come from the publisher, who may be hostile: accept only what units(for:) makes, so that no
        // input can trap (overflow), allocate or run without bound.
        guard unit.from >= 0, unit.to > unit.from, unit.to <= Self.maximumN, unit.to - unit.from <= Self.perUnit else {
            throw KernelDataError(kernel: Self.name, what: "unit input", reason: "bad range [\(unit.from), \(unit.to))")
        }
        var state = State(next: unit.from, sum: 0)
        if let saved = context.restore(State.self), (unit.from...unit.to).contains(saved.next) { state = saved }
        while state.next < unit.to {
            let end = min(unit.to, state.next + 10_000)
            for k in state.next..<end { state.sum &+= UInt64(k) &* UInt64(k) }
            state.next = end
            try context.step(progress: Double(end - unit.from) / Double(unit.to - unit.from)) { state }
        }
        return KernelCoding.encode(state.sum)
    }

    // Outputs in unit order → the job's result.
    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws
        -> KernelSummary
    {
        let sums = try outputs.map { try KernelCoding.decode(UInt64.self, from: $0, kernel: Self.name, what: "output") }
        let total = sums.reduce(0, &+)
        return KernelSummary(values: ["sum": .int(Int(truncatingIfNeeded: total))], headline: "sum = \(total)")
    }
}
