/// Searches for the smallest factor of 2^p − 1 below 2^bits, block by block, so that a caller can report
/// progress and checkpoint between blocks.
///
/// Every prime factor of 2^p − 1 (p an odd prime) has the form q = 2kp + 1 with q ≡ ±1 (mod 8), so only
/// those q are tried, in increasing k. Candidates divisible by a small prime are struck out by a sieve
/// first; each survivor is tested with 2^p mod q in 64-bit Montgomery arithmetic. Because k increases,
/// the first q that divides 2^p − 1 is its smallest prime factor: a deterministic answer.
struct TrialFactorSearch {
    /// The exponent p.
    let exponent: Int
    /// The largest k tried: q = 2kp + 1 stays below 2^bits, below 2^64 and below √(2^p − 1).
    let lastK: UInt64
    /// The first k of the next block (a multiple of 4·`blockLength`); a checkpoint stores it.
    private(set) var nextK: UInt64

    /// Candidates per residue class of k mod 4 in one block; with two classes a block covers 4·this k.
    static let blockLength = 8192
    /// The k one block covers.
    static let blockSpan = 4 * UInt64(blockLength)
    /// Small primes whose multiples the sieve strikes out.
    static let sievePrimes: [UInt32] = SmallPrimes.primes(below: sieveLimit).filter { $0 > 2 }.map { UInt32($0) }
    /// The sieve's largest prime bound. Measured: see `MersenneKernel.trialFactorBits(for:)`.
    static let sieveLimit = 8192

    /// The classes c = k mod 4 for which q = 2kp + 1 ≡ ±1 (mod 8): always two of the four.
    private let classes: [UInt64]
    /// Per class, per sieve prime: the next j (k = 4j + c) whose q the prime divides, relative to nextK / 4.
    private var offsets: [[Int]]
    /// How many of `sievePrimes` this search uses: none larger than its count of candidates per class, which
    /// would strike out at most one candidate for the price of a modular inverse.
    private let sievePrimeCount: Int
    private var sieve: [UInt8]

    /// A search for factors of 2^p − 1 below 2^bits (bits ≤ 64), starting at `startK` (rounded down to a block).
    init(exponent p: Int, bits: Int, startK: UInt64 = 0) {
        precondition(p >= 3 && p & 1 == 1, "trial factoring needs an odd exponent")
        exponent = p
        lastK = Self.lastK(exponent: p, bits: bits)
        nextK = startK / Self.blockSpan * Self.blockSpan
        classes = (0..<UInt64(4)).filter { c in
            let residue = (2 * c * UInt64(p) + 1) % 8
            return residue == 1 || residue == 7
        }
        sieve = lastK == 0 ? [] : [UInt8](repeating: 0, count: Self.blockLength)
        offsets = []
        let candidatesPerClass = lastK / 4 + 1
        sievePrimeCount = lastK == 0 ? 0 : Self.sievePrimes.prefix { UInt64($0) <= candidatesPerClass }.count
        let firstJ = nextK / 4
        for c in classes {
            var row = [Int]()
            row.reserveCapacity(sievePrimeCount)
            let base = 2 * c * UInt64(p) + 1  // q at j = 0
            for prime in Self.sievePrimes.prefix(sievePrimeCount) {
                let r = UInt64(prime)
                let stride = 8 * UInt64(p) % r
                if stride == 0 {  // r = p: q ≡ 1 (mod p) is never a multiple
                    row.append(Int.max)
                    continue
                }
                // j ≡ −base / (8p) (mod r) makes r divide q.
                let root = (r - base % r) % r * Self.inverse(stride, modulo: r) % r
                var first = firstJ + (root + r - firstJ % r) % r
                if first == root && 8 * UInt64(p) * root + base == r { first += r }  // q = r itself is prime
                row.append(Int(first - firstJ))
            }
            offsets.append(row)
        }
    }

    /// The largest k a search for factors of 2^p − 1 below 2^bits tries (0: none), for an odd p ≥ 3: the
    /// search's cost, about `lastK / blockSpan` blocks.
    static func lastK(exponent p: Int, bits: Int) -> UInt64 {
        // A composite 2^p − 1 has a factor at most √(2^p − 1) < 2^⌈p/2⌉, so larger q need no test.
        let limitBits = min(bits, 64, (p + 1) / 2)
        guard limitBits >= 2 else { return 0 }
        let qMax = limitBits == 64 ? UInt64.max : (UInt64(1) << UInt64(limitBits)) - 1  // q ≤ qMax
        return (qMax - 1) / UInt64(2 * p)
    }

    /// Whether every k up to `lastK` has been tried.
    var isFinished: Bool { lastK == 0 || nextK > lastK }  // k = 0 gives q = 1: no candidate at all

    /// The fraction of candidates tried so far (0…1).
    var fractionDone: Double { lastK == 0 ? 1 : min(1, Double(nextK) / Double(lastK)) }

    /// Tries the next block of k; returns the smallest factor found in it, if any.
    mutating func searchNextBlock() -> UInt64? {
        guard !isFinished else { return nil }
        let length = Self.blockLength
        let firstJ = nextK / 4
        let p = UInt64(exponent)
        var best: UInt64? = nil
        for (index, c) in classes.enumerated() {
            // j runs over firstJ ..< firstJ + length, with k = 4j + c ≤ lastK.
            let lastJ = lastK >= c ? (lastK - c) / 4 : 0
            let count = lastK < c || lastJ < firstJ ? 0 : Int(min(UInt64(length), lastJ - firstJ + 1))
            sieve.withUnsafeMutableBufferPointer { marks in
                marks.initialize(repeating: 0)
                offsets[index].withUnsafeMutableBufferPointer { next in
                    for (slot, prime) in Self.sievePrimes.prefix(sievePrimeCount).enumerated() {
                        var position = next[slot]
                        if position == Int.max { continue }
                        let r = Int(prime)
                        while position < length {
                            marks[position] = 1
                            position &+= r
                        }
                        next[slot] = position - length
                    }
                }
                let base = 2 * c * p + 1
                let stride = 8 * p
                for offset in 0..<count where marks[offset] == 0 {
                    let j = firstJ + UInt64(offset)
                    let q = stride * j + base
                    if q == 1 { continue }  // k = 0
                    if let found = best, q >= found { break }
                    if Self.divides(q, exponent: p) {
                        best = q
                        break
                    }
                }
            }
        }
        nextK += Self.blockSpan
        return best
    }

    /// Whether q divides 2^p − 1, that is 2^p ≡ 1 (mod q), for odd q > 1.
    static func divides(_ q: UInt64, exponent p: UInt64) -> Bool {
        // Montgomery arithmetic with R = 2^64: x is held as x·R mod q.
        var inverse = q  // q·q ≡ 1 (mod 8): three correct bits; each Newton step doubles them
        for _ in 0..<5 { inverse = inverse &* (2 &- q &* inverse) }
        let one = (0 &- q) % q  // R mod q
        var x = double(one, modulo: q)  // 2 in Montgomery form: the top bit of p
        var bit = 63 - p.leadingZeroBitCount - 1
        while bit >= 0 {
            x = montgomerySquare(x, modulo: q, inverse: inverse)
            if (p >> UInt64(bit)) & 1 == 1 { x = double(x, modulo: q) }
            bit -= 1
        }
        return x == one
    }

    @inline(__always)
    private static func montgomerySquare(_ x: UInt64, modulo q: UInt64, inverse: UInt64) -> UInt64 {
        let (high, low) = x.multipliedFullWidth(by: x)
        let m = low &* inverse  // m·q ≡ low (mod 2^64), so x² − m·q is a multiple of 2^64
        let mq = m.multipliedFullWidth(by: q).high
        let (difference, negative) = high.subtractingReportingOverflow(mq)
        return negative ? difference &+ q : difference
    }

    @inline(__always)
    private static func double(_ x: UInt64, modulo q: UInt64) -> UInt64 {
        let (sum, overflow) = x.addingReportingOverflow(x)
        return overflow || sum >= q ? sum &- q : sum
    }

    /// a⁻¹ mod m for gcd(a, m) = 1 and m < 2^32.
    static func inverse(_ a: UInt64, modulo m: UInt64) -> UInt64 {
        var (oldR, r) = (Int64(a % m), Int64(m))
        var (oldS, s) = (Int64(1), Int64(0))
        while r != 0 {
            let quotient = oldR / r
            (oldR, r) = (r, oldR - quotient * r)
            (oldS, s) = (s, oldS - quotient * s)
        }
        return UInt64((oldS % Int64(m) + Int64(m)) % Int64(m))
    }
}
