import ColonyKernel
import Foundation

/// Estimates π by sampling points in the unit square and counting those inside the quarter circle.
///
/// Sampling is seeded and done in integers (two 31-bit coordinates, compared against 2^62), so a unit gives
/// the same count on every machine: two honest workers always agree, bit for bit.
public struct MonteCarloPiKernel: ComputeKernel {
    public static let name = "montecarlo-pi"
    public static let version = 1
    public static let summary = "Estimates π by seeded random sampling of the unit square"
    public static let parameters = [
        KernelParameterInfo("samples", "points to sample in all, 1000 to 10^13 (required)"),
        KernelParameterInfo("seed", "any integer; the same seed gives the same estimate (default 1)"),
        KernelParameterInfo("samplesPerUnit", "points per unit, 1000 to 10^11 (default 50000000)"),
    ]

    /// The limits of `samples`.
    static let samplesRange = 1000...10_000_000_000_000
    /// The limits of `samplesPerUnit`; a unit input claiming more samples is refused, not run for hours.
    static let samplesPerUnitRange = 1000...100_000_000_000
    /// Unit indexes run from 0 to this (exclusive): the most units `samples` and `samplesPerUnit` can make.
    static let maximumUnits = samplesRange.upperBound / samplesPerUnitRange.lowerBound

    public init() {}

    struct Unit: Codable, Equatable {
        var seed: Int
        var index: Int
        var samples: Int
    }

    struct Count: Codable, Equatable {
        var samples: Int
        var inside: Int
    }

    struct Checkpoint: Codable {
        var generator: [UInt64]
        var done: Int
        var inside: Int
    }

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let samples = try parameters.int("samples", in: Self.samplesRange)
        let seed = try parameters.int("seed", default: 1, in: Int.min...Int.max)
        let perUnit = try parameters.int("samplesPerUnit", default: 50_000_000, in: Self.samplesPerUnitRange)
        let count = (samples + perUnit - 1) / perUnit
        return (0..<count).map { index in
            let share = index == count - 1 ? samples - perUnit * (count - 1) : perUnit
            return KernelCoding.encode(Unit(seed: seed, index: index, samples: share))
        }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        // The bytes come from the publisher: hold them to what `units(for:)` makes (the last unit may have fewer
        // than 1000 samples). Any seed is valid.
        guard (1...Self.samplesPerUnitRange.upperBound).contains(unit.samples) else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "samples is \(unit.samples), not from 1 to \(Self.samplesPerUnitRange.upperBound)")
        }
        guard (0..<Self.maximumUnits).contains(unit.index) else {
            throw KernelDataError(
                kernel: Self.name, what: "unit input",
                reason: "index is \(unit.index), not from 0 to \(Self.maximumUnits - 1)")
        }
        var generator = Xoshiro256StarStar(seed: UInt64(bitPattern: Int64(unit.seed)), stream: UInt64(unit.index))
        var done = 0
        var inside = 0
        if let checkpoint = context.restore(Checkpoint.self), checkpoint.generator.count == 4,
            (0...unit.samples).contains(checkpoint.done), (0...checkpoint.done).contains(checkpoint.inside)
        {
            generator.state = (checkpoint.generator[0], checkpoint.generator[1], checkpoint.generator[2], checkpoint.generator[3])
            done = checkpoint.done
            inside = checkpoint.inside
        }
        let radiusSquared: UInt64 = 1 << 62
        let chunk = 1 << 20
        while done < unit.samples {
            let batch = min(chunk, unit.samples - done)
            var hits = 0
            for _ in 0..<batch {
                let bits = generator.next()
                let x = bits >> 33
                let y = (bits >> 2) & 0x7FFF_FFFF
                hits &+= x &* x &+ y &* y < radiusSquared ? 1 : 0
            }
            inside += hits
            done += batch
            let state = generator.state
            try context.step(progress: Double(done) / Double(unit.samples)) {
                Checkpoint(generator: [state.0, state.1, state.2, state.3], done: done, inside: inside)
            }
        }
        return KernelCoding.encode(Count(samples: unit.samples, inside: inside))
    }

    public static let workUnit = "samples"

    /// The points the unit asked to draw, within the kernel's limit.
    public func work(input: Data, output: Data) -> Double {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            Self.samplesRange.contains(unit.samples)
        else { return 0 }
        return Double(unit.samples)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        var samples = 0
        var inside = 0
        for output in outputs {
            let count = try KernelCoding.decode(Count.self, from: output, kernel: Self.name, what: "unit output")
            // Outputs come from workers: bounded counts keep the sums below from overflowing.
            guard (1...Self.samplesPerUnitRange.upperBound).contains(count.samples),
                (0...count.samples).contains(count.inside), samples <= Self.samplesRange.upperBound
            else {
                throw KernelDataError(
                    kernel: Self.name, what: "unit output",
                    reason: "\(count.inside) inside of \(count.samples) samples is out of range, or the outputs add up "
                        + "to more than \(Self.samplesRange.upperBound) samples")
            }
            samples += count.samples
            inside += count.inside
        }
        let estimate = 4 * Double(inside) / Double(samples)
        // The standard error of the estimate: 4·sqrt(p(1−p)/n) with p = π/4.
        let p = Double(inside) / Double(samples)
        let error = 4 * (p * (1 - p) / Double(samples)).squareRoot()
        return KernelSummary(
            values: [
                "estimate": .double(estimate), "samples": .int(samples), "inside": .int(inside),
                "standardError": .double(error), "seed": .int(try parameters.int("seed", default: 1, in: Int.min...Int.max)),
            ],
            headline: String(format: "π ≈ %.9f ± %.1e from %d samples", estimate, error, samples))
    }
}

/// xoshiro256** (Blackman and Vigna), seeded through SplitMix64 from a seed and a stream number, so that every
/// unit draws its own sequence. Not cryptographic; chosen for speed and a fixed, portable output.
struct Xoshiro256StarStar {
    var state: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64, stream: UInt64) {
        var mixer = seed ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = (state.1 &* 5).rotatedLeft(by: 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = state.3.rotatedLeft(by: 45)
        return result
    }
}

extension UInt64 {
    @inline(__always)
    fileprivate func rotatedLeft(by count: UInt64) -> UInt64 {
        (self << count) | (self >> (64 - count))
    }
}
