import ColonyKernel
import Foundation

/// Over a range of starting values, finds the one with the longest total stopping time: the number of steps
/// (n → n/2 for even n, n → 3n + 1 for odd n) it takes to reach 1. Ties go to the smallest value.
public struct CollatzKernel: ComputeKernel {
    public static let name = "collatz"
    public static let version = 1
    public static let summary = "The starting value with the longest Collatz trajectory (total stopping time) in a range"
    public static let parameters = [
        KernelParameterInfo("from", "smallest starting value, from 1 (default 1)"),
        KernelParameterInfo("to", "starting values below this, up to \(maximum) (required)"),
        KernelParameterInfo("valuesPerUnit", "starting values per unit, 1000 to 10^12 (default 250000)"),
    ]

    /// The largest `to` accepted: trajectories from below 2^50 are followed in 128-bit arithmetic when they
    /// climb past 64 bits, and 2^50 keeps a unit's worst case far from even that.
    public static let maximum = 1 << 50
    /// The most starting values one unit may hold (hours of one core); a unit input claiming more is refused.
    public static let maximumValuesPerUnit = 1_000_000_000_000

    public init() {}

    struct Unit: Codable, Equatable {
        var from: Int
        var to: Int
    }

    struct Best: Codable, Equatable {
        var from: Int
        var to: Int
        var value: Int
        var steps: Int
    }

    struct Checkpoint: Codable {
        var next: Int
        var value: Int
        var steps: Int
    }

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let from = try parameters.int("from", default: 1, in: 1...Self.maximum)
        let to = try parameters.int("to", in: 2...Self.maximum)
        try parameters.require(to > from, field: "to", "is \(to), not greater than from (\(from)): the range is empty")
        let perUnit = try parameters.int("valuesPerUnit", default: 250_000, in: 1000...Self.maximumValuesPerUnit)
        return stride(from: from, to: to, by: perUnit).map {
            KernelCoding.encode(Unit(from: $0, to: min(to, $0 + perUnit)))
        }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        // The bytes come from the publisher: hold them to what `units(for:)` makes. Once from and to lie in
        // [1, maximum], to - from cannot overflow.
        guard unit.from >= 1, unit.to > unit.from, unit.to <= Self.maximum else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "the range [\(unit.from), \(unit.to)) is empty or outside [1, \(Self.maximum))")
        }
        guard unit.to - unit.from <= Self.maximumValuesPerUnit else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "the range [\(unit.from), \(unit.to)) holds \(unit.to - unit.from) starting values; a unit may "
                    + "hold at most \(Self.maximumValuesPerUnit)")
        }
        var state = Checkpoint(next: unit.from, value: 0, steps: -1)
        if let saved = context.restore(Checkpoint.self), saved.next >= unit.from, saved.next <= unit.to,
            saved.steps == -1 || (saved.value >= unit.from && saved.value < saved.next && saved.steps >= 0)
        {
            state = saved
        }
        let chunk = 16_384
        while state.next < unit.to {
            let end = min(unit.to, state.next + chunk)
            for start in state.next..<end {
                let steps = Self.totalStoppingTime(UInt64(start))
                if steps > state.steps {
                    state.steps = steps
                    state.value = start
                }
            }
            state.next = end
            let fraction = Double(state.next - unit.from) / Double(unit.to - unit.from)
            try context.step(progress: fraction) { state }
        }
        return KernelCoding.encode(Best(from: unit.from, to: unit.to, value: state.value, steps: state.steps))
    }

    public static let workUnit = "starting values"

    /// The starting values the unit asked to walk.
    public func work(input: Data, output: Data) -> Double {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            unit.from >= 1, unit.to > unit.from, unit.to <= Self.maximum,
            unit.to - unit.from <= Self.maximumValuesPerUnit
        else { return 0 }
        return Double(unit.to - unit.from)
    }

    /// Re-walks the claimed longest trajectory: the range must be the unit's and its start must take exactly the
    /// claimed steps (one walk against the unit's 250,000). It does not show that no start in the range goes
    /// further; a replica or a spot-check does.
    public func verify(input: Data, output: Data, seed: UInt64) -> Bool? {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            let best = try? KernelCoding.decode(Best.self, from: output, kernel: Self.name, what: "unit output")
        else { return false }
        guard best.from == unit.from, best.to == unit.to, (unit.from..<unit.to).contains(best.value),
            unit.from >= 1, unit.to <= Self.maximum
        else { return false }
        return Self.totalStoppingTime(UInt64(best.value)) == best.steps
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        var best: Best?
        for output in outputs {
            let candidate = try KernelCoding.decode(Best.self, from: output, kernel: Self.name, what: "unit output")
            if let current = best,
                candidate.steps < current.steps || (candidate.steps == current.steps && candidate.value > current.value)
            {
                continue
            }
            best = candidate
        }
        guard let best else { throw KernelDataError(kernel: Self.name, what: "unit outputs", reason: "there are none") }
        let from = try parameters.int("from", default: 1, in: 1...Self.maximum)
        let to = try parameters.int("to", in: 2...Self.maximum)
        return KernelSummary(
            values: ["value": .int(best.value), "steps": .int(best.steps), "from": .int(from), "to": .int(to)],
            headline: "\(best.value) takes \(best.steps) steps to reach 1, the most of any start in [\(from), \(to))")
    }

    /// Steps from `start` to 1. Below `CollatzTable.limit` the answer comes from the table; above it the
    /// trajectory is followed until it drops below the limit.
    static func totalStoppingTime(_ start: UInt64) -> Int {
        let table = CollatzTable.shared
        var n = start
        var steps = 0
        while n >= CollatzTable.limit {
            if n & 1 == 0 {
                let zeros = n.trailingZeroBitCount
                n >>= UInt64(zeros)
                steps += zeros
            } else {
                // (3n + 1) / 2 in one go: two steps. Past 2^62 the next value may not fit in 64 bits.
                guard n < (1 << 62) else { return steps + wideStoppingTime(UInt128(n)) }
                n = (3 &* n &+ 1) >> 1
                steps += 2
            }
        }
        return steps + Int(table.steps[Int(n)])
    }

    /// The same walk in 128 bits, for the rare trajectory that climbs past 2^62.
    static func wideStoppingTime(_ start: UInt128) -> Int {
        var n = start
        var steps = 0
        while n >= UInt128(CollatzTable.limit) {
            if n & 1 == 0 {
                n >>= 1
                steps += 1
            } else {
                n = (3 &* n &+ 1) >> 1
                steps += 2
            }
        }
        return steps + Int(CollatzTable.shared.steps[Int(n)])
    }
}

/// Total stopping times of every n below `limit`, built once per process: most trajectories fall below the
/// limit within a few dozen steps, and a lookup then replaces the rest of the walk.
final class CollatzTable: Sendable {
    static let limit: UInt64 = 1 << 20
    static let shared = CollatzTable()

    let steps: [UInt16]

    private init() {
        var steps = [UInt16](repeating: 0, count: Int(Self.limit))
        for start in 2..<Int(Self.limit) {
            // Walk until the value drops below the start: every smaller value's count is already known.
            var n = UInt64(start)
            var count = 0
            while n >= UInt64(start) {
                n = n & 1 == 0 ? n >> 1 : 3 * n + 1
                count += 1
            }
            steps[start] = UInt16(count) + steps[Int(n)]
        }
        self.steps = steps
    }
}
