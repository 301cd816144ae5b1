import ColonyKernel

/// One work unit's input: the exponents to test and how deep to trial-factor them.
struct MersenneUnitInput: Codable, Equatable, Sendable {
    /// Prime exponents p, ascending.
    var exponents: [Int]
    /// Trial factoring depth in bits for every exponent; nil means the kernel's per-exponent default.
    var trialFactorBits: Int?

    /// The most exponents one unit may carry: all the primes below `MersenneKernel.maximumExponent` fit.
    static let maximumCount = 20_000

    /// Checks bytes that came from a manifest: sizes, ranges, primality and order, and trial factoring within
    /// `MersenneKernel.maximumTrialFactorCandidates`. A unit that passes costs at most what the largest job
    /// `units(for:)` accepts would: each prime up to `MersenneKernel.maximumExponent` once, each trial-factored
    /// within the limit.
    func validate() throws(KernelDataError) {
        func refuse(_ reason: String) -> KernelDataError {
            KernelDataError(kernel: MersenneKernel.name, what: "unit input", reason: reason)
        }
        guard !exponents.isEmpty, exponents.count <= Self.maximumCount else {
            throw refuse("needs 1 to \(Self.maximumCount) exponents, has \(exponents.count)")
        }
        var previous = 1
        for p in exponents {
            guard p > previous, p <= MersenneKernel.maximumExponent, SmallPrimes.isPrime(p) else {
                throw refuse(
                    "exponent \(p) is not a prime from 2 to \(MersenneKernel.maximumExponent) in ascending order")
            }
            previous = p
        }
        if let bits = trialFactorBits {
            guard (0...64).contains(bits) else { throw refuse("trialFactorBits \(bits) is not from 0 to 64") }
            if let p = exponents.first(where: { !MersenneKernel.trialFactorFits(exponent: $0, bits: bits) }) {
                throw refuse(
                    "trialFactorBits \(bits) tries more than 2^32 candidate factors of 2^\(p) − 1; at most "
                        + "\(MersenneKernel.trialFactorBitsLimit(for: p)) bits are allowed there")
            }
        }
    }
}

/// What a unit found about one exponent p.
struct MersenneExponentResult: Codable, Equatable, Sendable {
    /// The exponent p.
    var exponent: Int
    /// Whether 2^p − 1 is prime.
    var prime: Bool
    /// The smallest factor of 2^p − 1, when trial factoring found one (then no Lucas–Lehmer test ran).
    var factor: UInt64?
    /// The low 64 bits of the last Lucas–Lehmer residue as 16 hex digits (GIMPS's "res64"), for composites
    /// that trial factoring did not settle: a second worker must get the same.
    var residue: String?
}

/// One work unit's output: a result per exponent, in input order.
struct MersenneUnitOutput: Codable, Equatable, Sendable {
    var results: [MersenneExponentResult]
}

/// Where a unit stopped: the results so far and the state of the exponent under way.
struct MersenneCheckpoint: Codable, Equatable, Sendable {
    /// Results for the first `results.count` exponents of the unit.
    var results: [MersenneExponentResult]
    /// The next k to try when trial factoring of the current exponent was under way.
    var trialFactorK: UInt64?
    /// Lucas–Lehmer iterations done on the current exponent, when that test was under way.
    var iteration: Int?
    /// The residue after `iteration` iterations, as limbs (least significant first).
    var residue: [UInt64]?

    /// Whether this checkpoint can belong to `input`; a checkpoint that cannot is ignored (the unit starts
    /// over, which is always correct).
    func fits(_ input: MersenneUnitInput) -> Bool {
        guard results.count <= input.exponents.count else { return false }
        for (result, p) in zip(results, input.exponents) where result.exponent != p { return false }
        guard results.count < input.exponents.count else {
            return trialFactorK == nil && iteration == nil && residue == nil  // the unit was done
        }
        let p = input.exponents[results.count]
        if let iteration {
            guard p > 2, trialFactorK == nil, (0...(p - 2)).contains(iteration), let residue,
                residue.count == (p + 63) / 64
            else { return false }
        } else if residue != nil {
            return false
        } else if let k = trialFactorK, k % TrialFactorSearch.blockSpan != 0 {
            return false
        }
        return true
    }
}
