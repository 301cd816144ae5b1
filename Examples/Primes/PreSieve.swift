/// Pre-sieving: the multiples of the primes 7...163 are cleared by copying precomputed byte patterns
/// instead of crossing them off one by one.
///
/// In the wheel-30 layout the bits of a prime's multiples repeat every `p` bytes, so the combined pattern of a
/// group of primes repeats every `product` bytes. Each segment starts as the AND of the groups' patterns at the
/// segment's position; this removes about 40% of all crossings below 10^9, the primes below 163 being the ones
/// that hit the most often. The patterns also clear these primes themselves, so `SegmentedSieve` counts them
/// apart.
struct PreSieve: Sendable {
    /// The largest prime whose multiples the patterns clear.
    static let largestPrime = 163

    /// The primes 2...163 that the sieve bits do not show: 2, 3 and 5 have no bits; the others are pre-sieved.
    static let primesBelowSieve: [Int] = [
        2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101,
        103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163,
    ]

    /// Groups of primes whose patterns are at most ~105 KiB each (the product of a group is its period in bytes),
    /// so that all of them (320 KiB) stay in the L2 cache. Merged four at a time.
    static let groups: [[Int]] = [
        [7, 11, 13, 17], [19, 23, 29], [31, 37, 41], [43, 47, 53],
        [59, 61], [67, 71], [73, 79], [83, 89],
        [97, 101], [103, 107], [109, 113], [127, 131],
        [137, 139], [149, 151], [157, 163],
    ]

    /// The patterns, one per group; pattern `i` byte `j` holds the bits of `30 * j + residue` not divisible by
    /// any prime of group `i`.
    let patterns: [[UInt8]]

    /// The patterns are built once per process.
    static let shared = PreSieve()

    init() {
        patterns = Self.groups.map { group in
            let period = group.reduce(1, *)
            var pattern = [UInt8](repeating: 0xFF, count: period)
            for p in group {
                // Every odd multiple of p below 30 * period; those divisible by 3 or 5 have no bit.
                var n = p
                while n < 30 * period {
                    let k = Wheel30.bitOfResidue[n % 30]
                    if k != 0xFF { pattern[n / 30] &= ~(1 << k) }
                    n += 2 * p
                }
            }
            return pattern
        }
    }

    /// Fills `count` bytes at `sieve` with the pattern for the bytes starting at absolute byte index `firstByte`.
    func fill(_ sieve: UnsafeMutablePointer<UInt8>, count: Int, firstByte: Int) {
        var first = true
        var group = 0
        while group < patterns.count {
            // Up to four patterns per pass: the pass is bound by loads, and four streams keep it simple for the
            // vectoriser while the sieve bytes stay in L1 between passes.
            let take = min(4, patterns.count - group)
            withPatterns(group, take) { a, b, c, d in
                merge(sieve, count: count, firstByte: firstByte, a, b, c, d, overwrite: first)
            }
            first = false
            group += take
        }
    }

    /// Calls `body` with pointers to `take` patterns starting at `group`, repeating the last one to make four.
    private func withPatterns(
        _ group: Int, _ take: Int,
        _ body: (
            UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<UInt8>,
            UnsafeBufferPointer<UInt8>
        ) -> Void
    ) {
        let i0 = group
        let i1 = group + min(1, take - 1)
        let i2 = group + min(2, take - 1)
        let i3 = group + min(3, take - 1)
        patterns[i0].withUnsafeBufferPointer { a in
            patterns[i1].withUnsafeBufferPointer { b in
                patterns[i2].withUnsafeBufferPointer { c in
                    patterns[i3].withUnsafeBufferPointer { d in body(a, b, c, d) }
                }
            }
        }
    }

    /// `sieve[i] (&)= a[..] & b[..] & c[..] & d[..]`, each pattern read from its own position and wrapping at
    /// its end; the work is split into runs in which no pattern wraps, so the inner loop is a plain AND.
    @inline(__always)
    private func merge(
        _ sieve: UnsafeMutablePointer<UInt8>, count: Int, firstByte: Int,
        _ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>, _ c: UnsafeBufferPointer<UInt8>,
        _ d: UnsafeBufferPointer<UInt8>, overwrite: Bool
    ) {
        var ia = firstByte % a.count
        var ib = firstByte % b.count
        var ic = firstByte % c.count
        var id = firstByte % d.count
        let pa = a.baseAddress!, pb = b.baseAddress!, pc = c.baseAddress!, pd = d.baseAddress!
        var done = 0
        while done < count {
            let run = min(count - done, a.count - ia, b.count - ib, c.count - ic, d.count - id)
            let out = sieve + done
            let sa = pa + ia, sb = pb + ib, sc = pc + ic, sd = pd + id
            if overwrite {
                for i in 0..<run { out[i] = sa[i] & sb[i] & sc[i] & sd[i] }
            } else {
                for i in 0..<run { out[i] &= sa[i] & sb[i] & sc[i] & sd[i] }
            }
            done += run
            ia += run
            ib += run
            ic += run
            id += run
            if ia == a.count { ia = 0 }
            if ib == b.count { ib = 0 }
            if ic == c.count { ic = 0 }
            if id == d.count { id = 0 }
        }
    }
}
