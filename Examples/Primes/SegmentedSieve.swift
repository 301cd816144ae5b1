/// A segmented sieve of Eratosthenes over `[from, to)` on the modulo-30 wheel, one segment at a time.
///
/// Each segment of up to `segmentBytes` bytes (30 numbers per byte) is sieved in L1-sized chunks: a chunk starts
/// as the pre-sieve pattern (primes up to 163), then the small sieving primes cross off their multiples while
/// the chunk is in L1. Medium primes then cross off over the whole segment, and the bucket sieve does the large
/// primes, which hit a segment a few times or not at all. Sieving primes join when the sieve reaches their
/// square.
///
/// After `sieveNextSegment()` the segment's bits are exactly the primes in its part of `[from, to)` above 163;
/// `countSegment()` adds the primes up to 163 that fall there.
final class SegmentedSieve {
    /// Bytes per segment: 256 KiB (7.9 million numbers), sized to stay in a typical L2 cache.
    static let segmentBytes = 1 << 18
    /// Bytes per chunk for the small primes: 32 KiB, the smallest common L1 data cache.
    static let chunkBytes = 1 << 15
    /// Small primes, up to this, are crossed off chunk by chunk: a wheel turn is `p` bytes, so each does at
    /// least 2 turns per chunk. (Measured: 1/4 to 1 chunk are all within 3% of each other below 10^9.)
    static let chunkPrimeLimit = chunkBytes / 2
    /// Medium primes, up to this, are crossed off segment by segment in whole turns: at least 2 per segment.
    /// Larger primes go to the bucket sieve. (Measured above 10^12: 2^17 and 2^18 beat 2^16 and 2^15 by 2–5%,
    /// and a tier between with bounds-tested crossing was slower than the buckets.)
    static let turnPrimeLimit = 1 << 17

    /// The first number counted.
    let from: Int
    /// The end of the range (exclusive).
    let to: Int
    /// The absolute index of the byte after the last one the range touches.
    private let endByte: Int
    /// The absolute index of the current segment's first byte.
    private(set) var segmentStart: Int
    /// The bytes in the current segment (0 before the first).
    private(set) var segmentLength = 0
    /// The sieve bytes of the current segment: `segmentBytes` with a guard zone of `guardBytes` on either
    /// side, where the whole turns of `TurnSieve` may reach.
    private let sieve: UnsafeMutablePointer<UInt8>
    private let memory: SieveMemory
    /// The guard zone's size: the largest prime crossed off in whole turns (`TurnSieve` writes up to `p` bytes
    /// outside its window), plus a word for counting.
    private static let guardBytes = turnPrimeLimit + 64

    private let sievingPrimes: ArraySlice<UInt32>
    private var nextPrime: Int
    private let smallPrimes: ResidueClassList<TurnPrime>
    private let mediumPrimes: ResidueClassList<TurnPrime>
    private let buckets: BucketSieve?
    private let preSieve = PreSieve.shared

    /// A sieve for `[from, to)` (0 <= from <= to) with `sievingPrimes`: every prime `p` with 163 < p and
    /// p * p < to, in increasing order.
    init(from: Int, to: Int, sievingPrimes: ArraySlice<UInt32>) {
        precondition(0 <= from && from <= to)
        self.from = from
        self.to = to
        segmentStart = from / 30
        endByte = to / 30 + (to % 30 == 0 ? 0 : 1)
        self.sievingPrimes = sievingPrimes
        nextPrime = sievingPrimes.startIndex
        memory = SieveMemory.take(segmentBytes: Self.segmentBytes, guardBytes: Self.guardBytes)
        sieve = memory.sieve
        var smallCounts = [Int](repeating: 0, count: 8)
        var mediumCounts = smallCounts
        for prime in sievingPrimes {
            let p = Int(prime)
            guard p <= Self.turnPrimeLimit else { break }
            let residueClass = Int(Wheel30.bitOfResidue[p % 30])
            if p <= Self.chunkPrimeLimit {
                smallCounts[residueClass] += 1
            } else {
                mediumCounts[residueClass] += 1
            }
        }
        smallPrimes = ResidueClassList(capacities: smallCounts)
        mediumPrimes = ResidueClassList(capacities: mediumCounts)
        if let largest = sievingPrimes.last, Int(largest) > Self.turnPrimeLimit {
            buckets = memory.bucketSieve(segmentBytes: Self.segmentBytes, largestPrime: Int(largest))
        } else {
            buckets = nil
        }
    }

    deinit {
        memory.recycle()
        smallPrimes.deallocate()
        mediumPrimes.deallocate()
    }

    /// The number up to which the range has been sieved: `from` before the first segment, `to` after the last.
    var position: Int {
        segmentLength == 0 ? from : min(to, 30 * (segmentStart + segmentLength))
    }

    /// Sieves the next segment; false when the range is done.
    func sieveNextSegment() -> Bool {
        if segmentLength > 0 { segmentStart += segmentLength }
        guard segmentStart < endByte, from < to else {
            segmentLength = 0
            segmentStart = endByte
            return false
        }
        segmentLength = min(Self.segmentBytes, endByte - segmentStart)
        addSievingPrimes()
        var chunk = 0
        while chunk < segmentLength {
            let length = min(Self.chunkBytes, segmentLength - chunk)
            preSieve.fill(sieve + chunk, count: length, firstByte: segmentStart + chunk)
            TurnSieve.crossOff(sieve + chunk, end: length, smallPrimes)
            chunk += length
        }
        TurnSieve.crossOff(sieve, end: segmentLength, mediumPrimes)
        buckets?.crossOff(sieve)
        clearOutsideRange()
        return true
    }

    /// The primes in the current segment's part of the range.
    func countSegment() -> Int {
        var count = 0
        let words = (segmentLength + 7) / 8
        let raw = UnsafeRawPointer(sieve)
        for i in 0..<words {
            count &+= raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self).nonzeroBitCount
        }
        return count + primesBelowSieveInSegment()
    }

    /// Calls `body` with each prime in the current segment's part of the range, in increasing order.
    func forEachPrime(_ body: (Int) -> Void) {
        let low = 30 * segmentStart
        for p in PreSieve.primesBelowSieve where p >= max(from, low) && p < min(to, position) { body(p) }
        let words = (segmentLength + 7) / 8
        let raw = UnsafeRawPointer(sieve)
        for i in 0..<words {
            var bits = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))
            while bits != 0 {
                let bit = bits.trailingZeroBitCount
                body(low + 30 * (i * 8 + bit >> 3) + Wheel30.residue(bit & 7))
                bits &= bits &- 1
            }
        }
    }

    private func primesBelowSieveInSegment() -> Int {
        let low = max(from, 30 * segmentStart)
        guard low <= PreSieve.largestPrime else { return 0 }
        let high = position
        return PreSieve.primesBelowSieve.reduce(0) { $0 + ($1 >= low && $1 < high ? 1 : 0) }
    }

    /// Starts the sieving primes whose square falls before the end of this segment.
    private func addSievingPrimes() {
        let low = 30 * segmentStart
        let high = 30 * (segmentStart + segmentLength)
        var next = nextPrime
        let end = sievingPrimes.endIndex
        guard next < end, Int(sievingPrimes[next]) * Int(sievingPrimes[next]) < high else { return }
        // Locals: every access to a class's stored property would be checked for exclusivity, and static tables
        // are reached through a once-check each time.
        let smallPrimes = self.smallPrimes
        let mediumPrimes = self.mediumPrimes
        let buckets = self.buckets
        let first = segmentStart
        let distanceToCoprime = Wheel30.distanceToCoprime
        let bitOfResidue = Wheel30.bitOfResidue
        let residues = Wheel30.residues
        // Products below stay under 2^52 (p < 2^26, multiples below 2^50), so the arithmetic cannot overflow.
        while next < end {
            let p = Int(sievingPrimes[next])
            guard p &* p < high else { break }
            next &+= 1
            // The first multiple p * m >= max(p², low) with m coprime to 30.
            var m = Self.quotientRoundedUp(max(p &* p, low), p)
            m &+= distanceToCoprime[m % 30]
            let offset = (p &* m) / 30 &- first
            let r = p % 30
            let residueClass = Int(bitOfResidue[r])
            let multiplier = Int(bitOfResidue[m % 30])
            let q = p / 30
            if p <= Self.turnPrimeLimit {
                // Whole-turn primes keep the start of the wheel turn, which may lie up to p bytes back.
                let residue = residues[multiplier]
                let turnStart = offset &- (q &* (residue &- 1) &+ r &* residue / 30)
                let prime = TurnPrime(turnStart: Int32(truncatingIfNeeded: turnStart), quotient: UInt32(q))
                if p <= Self.chunkPrimeLimit {
                    smallPrimes.append(prime, inClass: residueClass)
                } else {
                    mediumPrimes.append(prime, inClass: residueClass)
                }
            } else {
                buckets!.add(quotient: q, wheelIndex: residueClass << 3 | multiplier, offset: offset)
            }
        }
        nextPrime = next
    }

    /// `(n + d - 1) / d` for 0 < d and 0 <= n < 2^53, by floating point: an integer division costs several times
    /// as much, and the units above 10^12 do one for each of their tens of thousands of sieving primes.
    @inline(__always)
    private static func quotientRoundedUp(_ n: Int, _ d: Int) -> Int {
        // Both operands are exact doubles and the division is correctly rounded; below 2^53 its error is less
        // than 1/d, the distance from n/d to the next integer, so truncating gives exactly n / d. (Truncation, as
        // `rounded(.up)` is a library call on baseline x86-64.)
        let m = Int(Double(n) / Double(d))
        return m &* d < n ? m &+ 1 : m
    }

    /// Clears the bits of numbers outside `[from, to)` (and of 1, which is not prime) and zeroes the padding.
    private func clearOutsideRange() {
        let low = 30 * segmentStart
        if from > low {
            sieve[0] &= Wheel30.bitsAtOrAbove(from - low)
        }
        if segmentStart == 0 {
            sieve[0] &= 0xFE
        }
        let lastLow = 30 * (segmentStart + segmentLength - 1)
        if to < lastLow + 30 {
            sieve[segmentLength - 1] &= ~Wheel30.bitsAtOrAbove(to - lastLow)
        }
        for i in segmentLength..<(segmentLength + 8) { sieve[i] = 0 }
    }
}
