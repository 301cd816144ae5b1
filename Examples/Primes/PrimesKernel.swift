import ColonyKernel
import Foundation

/// Counts the primes in a range `[from, to)` with a segmented sieve of Eratosthenes on the modulo-30 wheel.
///
/// Each unit counts one sub-range; `assemble` adds the counts. The sieve (see `SegmentedSieve`) pre-sieves the
/// primes up to 163 from byte patterns, crosses off small primes in L1-sized chunks and large ones from buckets,
/// and counts with popcounts: on one core it counts the primes below 10^9 in well under a tenth of a second.
public struct PrimesKernel: ComputeKernel {
    public static let name = "primes"
    public static let version = 1
    public static let summary = "Counts the primes in a range [from, to) with a segmented wheel sieve"
    public static let parameters = [
        KernelParameterInfo("from", "first number of the range, 0 to \(maximum - 1) (default 0)"),
        KernelParameterInfo(
            "to", "end of the range, exclusive, greater than from, up to \(maximum) (10^15) (required)"),
        KernelParameterInfo(
            "numbersPerUnit",
            "numbers per unit, \(numbersPerUnitRange.lowerBound) to \(numbersPerUnitRange.upperBound), at most "
                + "\(maximumUnits) units (default \(defaultNumbersPerUnit): one sieve segment, 128 units for 10^9)"),
    ]

    /// The largest `to` accepted: 10^15. The sieving primes go up to its square root (2 million primes, 8 MB),
    /// and every product the sieve forms stays far below 2^63.
    public static let maximum = 1_000_000_000_000_000
    /// The default unit: 30 × 2^18 numbers, exactly one 256 KiB sieve segment. Above about 10^13 larger units
    /// pay off, as each unit starts every sieving prime below √to afresh.
    public static let defaultNumbersPerUnit = 30 * SegmentedSieve.segmentBytes
    /// The limits of `numbersPerUnit`: at least one sieve byte, at most 10^12 numbers (minutes of work).
    public static let numbersPerUnitRange = 30...1_000_000_000_000
    /// The most units a job may have, so that a spec cannot ask for an unbounded manifest.
    public static let maximumUnits = 1_000_000
    /// The most numbers one unit may cover: `numbersPerUnit`'s limit plus the 29 that rounding a boundary down to
    /// a multiple of 30 can add. A unit input claiming more is refused, not run for days.
    public static let maximumUnitWidth = numbersPerUnitRange.upperBound + 29

    public init() {}

    /// A unit's input: the range to count.
    struct Unit: Codable, Equatable {
        var from: Int
        var to: Int
    }

    /// A unit's output: its range and how many primes it holds.
    struct Count: Codable, Equatable {
        var from: Int
        var to: Int
        var count: Int
    }

    /// A unit's state between segments: everything below `next` is counted, and holds `count` primes.
    struct Checkpoint: Codable {
        var next: Int
        var count: Int
    }

    public func units(for parameters: KernelParameters) throws -> [Data] {
        try Self.ranges(for: parameters).map { KernelCoding.encode(Unit(from: $0.lowerBound, to: $0.upperBound)) }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        // The bytes come from the publisher: check them as `ranges(for:)` bounds them. `to - from` cannot overflow
        // once both are known to lie in [0, maximum].
        guard unit.from >= 0, unit.to > unit.from, unit.to <= Self.maximum else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "the range [\(unit.from), \(unit.to)) is empty or outside [0, \(Self.maximum))")
        }
        guard unit.to - unit.from <= Self.maximumUnitWidth else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "the range [\(unit.from), \(unit.to)) holds \(unit.to - unit.from) numbers; a unit may hold at "
                    + "most \(Self.maximumUnitWidth)")
        }
        var state = Checkpoint(next: unit.from, count: 0)
        if let saved = context.restore(Checkpoint.self), saved.next >= unit.from, saved.next <= unit.to,
            saved.count >= 0, saved.count <= saved.next - unit.from
        {
            state = saved
        }
        let sieve = SegmentedSieve(
            from: state.next, to: unit.to, sievingPrimes: SievingPrimes.forRange(endingAt: unit.to))
        while sieve.sieveNextSegment() {
            state.count += sieve.countSegment()
            state.next = sieve.position
            try context.step(progress: Double(state.next - unit.from) / Double(unit.to - unit.from)) { state }
        }
        return KernelCoding.encode(Count(from: unit.from, to: unit.to, count: state.count))
    }

    public static let workUnit = "numbers sieved"

    /// The numbers of the unit's range.
    public func work(input: Data, output: Data) -> Double {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            unit.from >= 0, unit.to > unit.from, unit.to <= Self.maximum
        else { return 0 }
        return Double(unit.to - unit.from)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        let ranges = try Self.ranges(for: parameters)
        guard outputs.count == ranges.count else {
            throw KernelDataError(
                kernel: Self.name, what: "unit outputs", reason: "\(outputs.count) outputs for \(ranges.count) units")
        }
        var counts: [Count] = []
        for (index, output) in outputs.enumerated() {
            let count = try KernelCoding.decode(Count.self, from: output, kernel: Self.name, what: "unit output")
            let range = ranges[index]
            guard count.from == range.lowerBound, count.to == range.upperBound,
                count.count >= 0, count.count <= count.to - count.from
            else {
                throw KernelDataError(
                    kernel: Self.name, what: "unit output \(index)",
                    reason: "it claims \(count.count) primes in [\(count.from), \(count.to)), but the unit is "
                        + "[\(range.lowerBound), \(range.upperBound))")
            }
            counts.append(count)
        }
        let from = ranges.first!.lowerBound
        let to = ranges.last!.upperBound
        let total = counts.reduce(0) { $0 + $1.count }
        let result = Result(from: from, to: to, count: total, units: counts)
        let file = directory.appendingPathComponent("result.json")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try KernelCoding.encode(result).write(to: file, options: .atomic)
        return KernelSummary(
            values: ["count": .int(total), "from": .int(from), "to": .int(to)], files: [file],
            headline: "\(total) primes in [\(from), \(to))")
    }

    /// The job's result file: the total and each unit's count, which together tabulate π(x) at the unit
    /// boundaries.
    struct Result: Codable {
        var from: Int
        var to: Int
        var count: Int
        var units: [Count]
    }

    /// The units' ranges. Every boundary but `from` and `to` is rounded down to a multiple of 30, so that units
    /// cover whole sieve bytes; with the default size a unit is then exactly one sieve segment.
    static func ranges(for parameters: KernelParameters) throws(KernelParameterError) -> [Range<Int>] {
        let from = try parameters.int("from", default: 0, in: 0...(maximum - 1))
        let to = try parameters.int("to", in: 1...maximum)
        try parameters.require(to > from, field: "to", "is \(to), not greater than from (\(from)): the range is empty")
        let perUnit = try parameters.int("numbersPerUnit", default: defaultNumbersPerUnit, in: numbersPerUnitRange)
        let unitCount = (to - from - 1) / perUnit + 1
        let fewest = (to - from - 1) / maximumUnits + 1
        try parameters.require(
            unitCount <= maximumUnits, field: "numbersPerUnit",
            "is \(perUnit), which makes \(unitCount) units, more than \(maximumUnits); use at least \(fewest)")
        // Boundary k is from + k × perUnit rounded down to a multiple of 30; as perUnit >= 30 they increase.
        func boundary(_ k: Int) -> Int { k == 0 ? from : k == unitCount ? to : (from + k * perUnit) / 30 * 30 }
        return (0..<unitCount).map { boundary($0)..<boundary($0 + 1) }
    }
}
