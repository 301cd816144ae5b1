import ColonyKernel
import Foundation

/// Finds Mersenne primes: for each prime exponent p in a range, trial-factors 2^p − 1 and, when no small
/// factor turns up, runs the Lucas–Lehmer test with multi-precision arithmetic written here (no bignum
/// library).
///
/// Parameters: `below` (required), `from`, `exponentsPerUnit`, `trialFactorBits`; see `parameters`.
/// Each unit's output lists, per exponent, whether 2^p − 1 is prime, the smallest factor found, or the
/// Lucas–Lehmer res64 of a composite; `assemble` merges them into the list of exponents that give primes.
public struct MersenneKernel: ComputeKernel {
    public static let name = "mersenne"
    public static let version = 1
    public static let summary = "Lucas–Lehmer tests (after trial factoring) of 2^p − 1 for the prime p in a range"
    public static let parameters: [KernelParameterInfo] = [
        KernelParameterInfo(
            "below", "exclusive upper bound on the exponent p, 3 to \(maximumExponent) (required; cost grows ~p³)"),
        KernelParameterInfo("from", "smallest exponent p tested, 2 to \(maximumExponent - 1) (default 2)"),
        KernelParameterInfo("exponentsPerUnit", "average exponents per work unit, 1 to 10000 (default 40)"),
        KernelParameterInfo(
            "trialFactorBits",
            "trial-factor 2^p − 1 up to 2^bits, 0 to 64 and at most 2^32 candidates per exponent (about 33 + log2 p "
                + "bits) (default: per exponent, ≈ 3.6·log2 p − 15)"),
    ]

    /// The largest exponent a job may ask for: p = 200,000 takes hours on one core.
    public static let maximumExponent = 200_000

    /// The most candidate factors q = 2kp + 1 (values of k) trial factoring may try for one exponent: 2^32, a few
    /// minutes of one core, like the Lucas–Lehmer test of the largest exponents. The default depth stays below
    /// 2^29.5; without a limit, `trialFactorBits` 64 at p = 127 would ask for 7·10^16, years of work.
    public static let maximumTrialFactorCandidates: UInt64 = 1 << 32

    public init() {}

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let below = try parameters.int("below", in: 3...Self.maximumExponent)
        let from = try parameters.int("from", default: 2, in: 2...(Self.maximumExponent - 1))
        try parameters.require(below > from, field: "below", "must be greater than from (\(from))")
        let perUnit = try parameters.int("exponentsPerUnit", default: 40, in: 1...10_000)
        let bits: Int? =
            parameters.contains("trialFactorBits") ? try parameters.int("trialFactorBits", in: 0...64) : nil
        let exponents = SmallPrimes.primes(from: from, below: below)
        try parameters.require(
            !exponents.isEmpty, field: "below", "leaves no prime exponent in [\(from), \(below))")
        if let bits, let p = exponents.first(where: { !Self.trialFactorFits(exponent: $0, bits: bits) }) {
            throw KernelParameterError(
                source: parameters.source, field: "trialFactorBits",
                problem: "is \(bits), which tries more than 2^32 candidate factors of 2^\(p) − 1",
                expected: "at most \(Self.trialFactorBitsLimit(for: p)) for p = \(p)")
        }
        let unitCount = (exponents.count + perUnit - 1) / perUnit
        return Self.balance(exponents, into: unitCount).map { group in
            KernelCoding.encode(MersenneUnitInput(exponents: group, trialFactorBits: bits))
        }
    }

    public static let workUnit = "Lucas–Lehmer iterations"

    /// p − 2 iterations for each exponent of the unit a Lucas–Lehmer test settled (those trial factoring settled
    /// count none); an exponent the input did not ask for, or one listed twice, counts nothing more.
    public func work(input: Data, output: Data) -> Double {
        guard
            let unit = try? KernelCoding.decode(
                MersenneUnitInput.self, from: input, kernel: Self.name, what: "unit input"),
            let results = try? KernelCoding.decode(
                MersenneUnitOutput.self, from: output, kernel: Self.name, what: "unit output")
        else { return 0 }
        let asked = Set(unit.exponents.filter { $0 > 2 && $0 <= Self.maximumExponent })
        let settled = Set(results.results.filter { $0.factor == nil }.map(\.exponent)).intersection(asked)
        return settled.reduce(0) { $0 + Double($1 - 2) }
    }

    public func assemble(
        _ outputs: [Data], parameters: KernelParameters, into directory: URL
    ) throws
        -> KernelSummary
    {
        let below = try parameters.int("below", in: 3...Self.maximumExponent)
        let from = try parameters.int("from", default: 2, in: 2...(Self.maximumExponent - 1))
        var results = [MersenneExponentResult]()
        for output in outputs {
            let decoded = try KernelCoding.decode(
                MersenneUnitOutput.self, from: output, kernel: Self.name, what: "unit output")
            results += decoded.results
        }
        results.sort { $0.exponent < $1.exponent }
        let expected = SmallPrimes.primes(from: from, below: below)
        guard results.map(\.exponent) == expected else {
            throw KernelDataError(
                kernel: Self.name, what: "unit outputs",
                reason: "they cover \(results.count) exponents, not each of the \(expected.count) primes in "
                    + "[\(from), \(below)) once")
        }
        let primes = results.filter(\.prime).map(\.exponent)
        let factored = results.filter { $0.factor != nil }.count
        let report = MersenneReport(from: from, below: below, exponents: primes, results: results)
        let file = directory.appendingPathComponent("result.json")
        try KernelCoding.encode(report).write(to: file, options: .atomic)
        let list = primes.map(String.init).joined(separator: ", ")
        let noun = primes.count == 1 ? "Mersenne prime" : "Mersenne primes"
        return KernelSummary(
            values: [
                "exponents": .array(primes.map { .int($0) }),
                "tested": .int(results.count),
                "factored": .int(factored),
                "from": .int(from),
                "below": .int(below),
            ],
            files: [file],
            headline: "\(primes.count) \(noun) 2^p − 1 with p in [\(from), \(below))"
                + (primes.isEmpty ? "" : ": p = \(list)")
                + " (\(results.count) exponents, \(factored) settled by a trial factor)")
    }

    // MARK: - Direct use (benchmarks, tests)

    /// Whether 2^p − 1 is prime, by the Lucas–Lehmer test alone (no trial factoring). False unless p is prime.
    public static func lucasLehmer(exponent p: Int) -> Bool {
        lucasLehmerResidue(exponent: p) == 0
    }

    /// Whether 2^p − 1 is prime: trial factoring to the default depth, then Lucas–Lehmer.
    public static func isMersennePrime(exponent p: Int) -> Bool {
        guard SmallPrimes.isPrime(p) else { return false }
        if p > 2, trialFactor(exponent: p, bits: trialFactorBits(for: p)) != nil { return false }
        return lucasLehmer(exponent: p)
    }

    /// The smallest factor of 2^p − 1 below 2^bits (bits ≤ 64) for a prime p, or nil when there is none.
    public static func trialFactor(exponent p: Int, bits: Int) -> UInt64? {
        guard p > 2, SmallPrimes.isPrime(p) else { return nil }
        var search = TrialFactorSearch(exponent: p, bits: bits)
        while !search.isFinished {
            if let factor = search.searchNextBlock() { return factor }
        }
        return nil
    }

    /// The Lucas–Lehmer residue s(p−2) mod 2^p − 1, low 64 bits (0 exactly when 2^p − 1 is prime); nil
    /// (reported as non-zero) for p that is not prime.
    static func lucasLehmerResidue(exponent p: Int) -> UInt64? {
        guard SmallPrimes.isPrime(p) else { return nil }
        if p == 2 { return 0 }  // M2 = 3 is prime; the test as stated needs an odd p
        let residue = MersenneResidue(exponent: p, start: 4)
        for _ in 0..<(p - 2) { residue.squareMinusTwo() }
        return residue.low64
    }
}

/// The `result.json` that `assemble` writes.
struct MersenneReport: Codable {
    var from: Int
    var below: Int
    /// The p for which 2^p − 1 is prime.
    var exponents: [Int]
    /// Every exponent's result, ascending.
    var results: [MersenneExponentResult]
}
