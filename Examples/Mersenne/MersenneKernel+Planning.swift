/// How work is sized: the cost model that balances units, and the trial factoring depth.
extension MersenneKernel {
    /// The relative cost of testing exponent p: p squarings of ⌈p/64⌉ limbs, each about n^1.5 limb products
    /// with Karatsuba at these sizes. Integer arithmetic, so that the same parameters give the same units on
    /// every machine.
    static func estimatedCost(of p: Int) -> Int {
        let limbs = (p + 63) / 64
        return p * limbs * integerSquareRoot(limbs)
    }

    /// Splits the exponents into `unitCount` groups of about equal estimated cost: largest first, each to the
    /// group with the least cost so far (ties to the lowest group). Each group is returned ascending.
    ///
    /// Units run side by side on every core of every worker, so a job ends with its slowest unit: an even
    /// split of cost matters more than an even split of count.
    static func balance(_ exponents: [Int], into unitCount: Int) -> [[Int]] {
        let count = max(1, min(unitCount, exponents.count))
        var groups = [[Int]](repeating: [], count: count)
        var heap = UnitLoadHeap(count: count)
        for p in exponents.sorted(by: >) {
            let unit = heap.popLightest()
            groups[unit.index].append(p)
            heap.push(UnitLoadHeap.Entry(load: unit.load + estimatedCost(of: p), index: unit.index))
        }
        return groups.map { $0.sorted() }
    }

    /// The default trial factoring depth for exponent p, in bits: ≈ 3.6·log2(p) − 14.7.
    ///
    /// Going one bit deeper doubles the candidates (about 2^b/2p of them, a few nanoseconds each) and finds a
    /// factor with probability about 1/b, saving one Lucas–Lehmer test (∝ p^2.6 measured). They balance at
    /// 2^b·b ∝ p^3.6; the constants are fitted to measurements with `swiftc -O` on x86-64 (README). The
    /// logarithm is taken in integers so that every worker picks the same depth and the same output.
    public static func trialFactorBits(for p: Int) -> Int {
        guard p > 2 else { return 0 }
        let depth = (36 * log2TimesSixteen(p) - 16 * 147) / 160
        return min(64, max(1, depth))
    }

    /// Whether trial factoring exponent p to `bits` stays within `maximumTrialFactorCandidates`.
    static func trialFactorFits(exponent p: Int, bits: Int) -> Bool {
        p < 3 || TrialFactorSearch.lastK(exponent: p, bits: bits) <= maximumTrialFactorCandidates
    }

    /// The deepest trial factoring, in bits, that stays within `maximumTrialFactorCandidates` for exponent p.
    static func trialFactorBitsLimit(for p: Int) -> Int {
        (0...64).last { trialFactorFits(exponent: p, bits: $0) } ?? 0
    }

    /// ⌊16·log2(n)⌋ approximately (within 0.09·16), for n ≥ 1, in integer arithmetic: the bit length gives the
    /// integer part, and the next four bits below the leading one a linear fraction.
    static func log2TimesSixteen(_ n: Int) -> Int {
        let bits = Int.bitWidth - n.leadingZeroBitCount  // n ∈ [2^(bits−1), 2^bits)
        let fraction = bits > 5 ? (n >> (bits - 5)) & 15 : (n << (5 - bits)) & 15
        return 16 * (bits - 1) + fraction
    }

    static func integerSquareRoot(_ n: Int) -> Int {
        var root = Int(Double(n).squareRoot())
        while root * root > n { root -= 1 }
        while (root + 1) * (root + 1) <= n { root += 1 }
        return root
    }
}

/// A binary min-heap of units by load (then index), for balancing units.
struct UnitLoadHeap {
    struct Entry {
        var load: Int
        var index: Int

        func isLighter(than other: Entry) -> Bool {
            load != other.load ? load < other.load : index < other.index
        }
    }

    private var entries: [Entry]

    /// A heap of `count` empty units.
    init(count: Int) {
        entries = (0..<count).map { Entry(load: 0, index: $0) }  // already a heap: equal loads, ascending index
    }

    mutating func popLightest() -> Entry {
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var i = 0
            while true {
                let left = 2 * i + 1
                let right = left + 1
                var smallest = i
                if left < entries.count && entries[left].isLighter(than: entries[smallest]) { smallest = left }
                if right < entries.count && entries[right].isLighter(than: entries[smallest]) { smallest = right }
                if smallest == i { break }
                entries.swapAt(i, smallest)
                i = smallest
            }
        }
        return top
    }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard entries[i].isLighter(than: entries[parent]) else { break }
            entries.swapAt(i, parent)
            i = parent
        }
    }
}
