import ColonyKernel
import Foundation

/// The worker's side: trial factoring, then Lucas–Lehmer, exponent by exponent, with checkpoints.
extension MersenneKernel {
    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(MersenneUnitInput.self, from: input, kernel: Self.name, what: "unit input")
        try unit.validate()
        var progress = UnitProgress(exponents: unit.exponents)
        var state = MersenneCheckpoint(results: [])
        if let saved = context.restore(MersenneCheckpoint.self), saved.fits(unit) { state = saved }
        progress.completed = state.results.count
        while state.results.count < unit.exponents.count {
            let p = unit.exponents[state.results.count]
            let result = try test(
                p, bits: unit.trialFactorBits ?? Self.trialFactorBits(for: p), state: &state,
                progress: progress, context: context)
            state = MersenneCheckpoint(results: state.results + [result])
            progress.completed = state.results.count
            try context.step(progress: progress.fraction(within: 0)) { state }
        }
        return KernelCoding.encode(MersenneUnitOutput(results: state.results))
    }

    /// Settles exponent p, resuming from the part of `state` that concerns it; `state` is kept current for
    /// checkpoints.
    private func test(
        _ p: Int, bits: Int, state: inout MersenneCheckpoint, progress: UnitProgress, context: KernelContext
    ) throws -> MersenneExponentResult {
        if p == 2 { return MersenneExponentResult(exponent: 2, prime: true) }  // M2 = 3; LL needs an odd p
        // Trial factoring, unless a checkpoint says it is done (a Lucas–Lehmer state is present).
        if state.iteration == nil {
            var search = TrialFactorSearch(exponent: p, bits: bits, startK: state.trialFactorK ?? 0)
            while !search.isFinished {
                if let factor = search.searchNextBlock() {
                    return MersenneExponentResult(exponent: p, prime: false, factor: factor)
                }
                state.trialFactorK = search.nextK
                let snapshot = state
                try context.step(progress: progress.fraction(within: search.fractionDone * Self.trialShare)) {
                    snapshot
                }
            }
            state.trialFactorK = nil
        }
        // Lucas–Lehmer: s = 4, then s ← s² − 2 (mod 2^p − 1) p − 2 times; 2^p − 1 is prime iff s ends at 0.
        let residue: MersenneResidue
        var iteration = state.iteration ?? 0
        if let limbs = state.residue, let restored = MersenneResidue(exponent: p, limbs: limbs) {
            residue = restored
        } else {
            residue = MersenneResidue(exponent: p, start: 4)
            iteration = 0
        }
        let total = p - 2
        // Enough squarings between steps for about 2^18 limb products: well under a millisecond.
        let stride = max(1, (1 << 18) / (residue.limbCount * residue.limbCount))
        while iteration < total {
            let end = min(total, iteration + stride)
            while iteration < end {
                residue.squareMinusTwo()
                iteration += 1
            }
            let done = iteration
            let share = Self.trialShare + (1 - Self.trialShare) * Double(done) / Double(total)
            try context.step(progress: progress.fraction(within: share)) {
                var snapshot = state
                snapshot.iteration = done
                snapshot.residue = residue.limbs
                return snapshot
            }
        }
        if residue.isZero { return MersenneExponentResult(exponent: p, prime: true) }
        let hex = String(residue.low64, radix: 16)
        return MersenneExponentResult(
            exponent: p, prime: false, residue: String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// The share of an exponent's progress given to trial factoring, for the progress bar only.
    private static let trialShare = 0.1
}

/// Progress through a unit, weighted by each exponent's estimated cost.
private struct UnitProgress {
    private let prefixCost: [Double]  // cost of the first i exponents
    /// Exponents finished.
    var completed = 0

    init(exponents: [Int]) {
        var sums = [0.0]
        for p in exponents { sums.append(sums[sums.count - 1] + Double(MersenneKernel.estimatedCost(of: p))) }
        prefixCost = sums
    }

    /// The fraction of the unit done when the current exponent is `share` (0…1) done.
    func fraction(within share: Double) -> Double {
        let total = prefixCost[prefixCost.count - 1]
        guard total > 0, completed < prefixCost.count - 1 else { return 1 }
        let current = prefixCost[completed + 1] - prefixCost[completed]
        return (prefixCost[completed] + share * current) / total
    }
}
