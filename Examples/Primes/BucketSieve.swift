/// Crossing off for sieving primes much larger than a segment, which hit a segment once or not at all.
///
/// Walking every such prime for every segment would cost more than its crossings; instead each prime waits in
/// the bucket of the segment its next multiple falls in. Sieving a segment empties its bucket: each prime
/// crosses off its multiples there and moves to the bucket of its next segment. The buckets form a ring as long
/// as the largest step between multiples, so no prime is ever looked at in a segment it does not hit.
final class BucketSieve {
    /// The bytes per segment, a power of two.
    let segmentBytes: Int
    private let segmentShift: Int
    /// The ring's length, a power of two.
    private let bucketCount: Int
    private let buckets: UnsafeMutablePointer<Bucket>
    /// The ring position of the segment sieved next.
    private var current = 0
    /// Per wheel index (prime residue × 8 + multiplier residue): mask | gap << 8 | carry << 16.
    private let steps: UnsafeMutablePointer<UInt32>

    /// One bucket: a growable array of packed entries (quotient in the low 32 bits, then byte offset << 6 |
    /// wheel index in the high 32 bits).
    private struct Bucket {
        var entries: UnsafeMutablePointer<UInt64>?
        var count: Int
        var capacity: Int
    }

    /// A ring for primes up to `largestPrime` on segments of `segmentBytes` (a power of two, at most 2^25).
    init(segmentBytes: Int, largestPrime: Int) {
        precondition(segmentBytes > 0 && segmentBytes & (segmentBytes - 1) == 0 && segmentBytes <= 1 << 25)
        self.segmentBytes = segmentBytes
        segmentShift = segmentBytes.trailingZeroBitCount
        let count = Self.ringLength(segmentBytes: segmentBytes, largestPrime: largestPrime)
        bucketCount = count
        buckets = .allocate(capacity: count)
        buckets.initialize(repeating: Bucket(entries: nil, count: 0, capacity: 0), count: count)
        steps = .allocate(capacity: 64)
        for index in 0..<64 {
            let mask = UInt32(Wheel30.masks[index])
            let gap = UInt32(Wheel30.gaps[index & 7])
            let carry = UInt32(Wheel30.carries[index])
            steps[index] = mask | gap << 8 | carry << 16
        }
    }

    /// The buckets needed: a new prime's first multiple is at most 7p/30 bytes ahead, and a step between
    /// multiples at most p/5 + 1 bytes.
    private static func ringLength(segmentBytes: Int, largestPrime: Int) -> Int {
        let farthest = (7 * largestPrime) / 30 / segmentBytes + 2
        var count = 1
        while count <= farthest { count <<= 1 }
        return count
    }

    /// Empties every bucket for a new range, keeping their memory; false when the ring is too short for
    /// `largestPrime` or the segments differ.
    func reset(segmentBytes: Int, largestPrime: Int) -> Bool {
        guard segmentBytes == self.segmentBytes,
            Self.ringLength(segmentBytes: segmentBytes, largestPrime: largestPrime) <= bucketCount
        else { return false }
        for i in 0..<bucketCount { buckets[i].count = 0 }
        current = 0
        return true
    }

    deinit {
        for i in 0..<bucketCount { buckets[i].entries?.deallocate() }
        buckets.deallocate()
        steps.deallocate()
    }

    /// Adds the prime `30 * quotient + r` whose next multiple is `offset` bytes from the start of the segment
    /// sieved next, with wheel index `wheelIndex`.
    @inline(__always)
    func add(quotient: Int, wheelIndex: Int, offset: Int) {
        let ahead = offset >> segmentShift
        precondition(ahead < bucketCount, "bucket ring too short")
        push(
            (current + ahead) & (bucketCount - 1), quotient: quotient, offset: offset & (segmentBytes - 1),
            wheelIndex: wheelIndex)
    }

    /// Crosses off the multiples that fall in the segment at `sieve` (which has room for `segmentBytes`), then
    /// moves on to the next segment.
    func crossOff(_ sieve: UnsafeMutablePointer<UInt8>) {
        let limit = segmentBytes
        let ringMask = bucketCount - 1
        let here = current
        let count = buckets[here].count
        if count > 0, let entries = buckets[here].entries {
            for i in 0..<count {
                let entry = entries[i]
                let q = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF)
                let packed = Int(truncatingIfNeeded: entry >> 32)
                var offset = packed >> 6
                var index = packed & 63
                repeat {
                    let step = Int(steps[index])
                    sieve[offset] &= UInt8(truncatingIfNeeded: step)
                    offset &+= q &* ((step >> 8) & 0xFF) &+ (step >> 16)
                    index = (index & 0b111_000) | ((index &+ 1) & 7)
                } while offset < limit
                push(
                    (here &+ (offset >> segmentShift)) & ringMask, quotient: q, offset: offset & (limit - 1),
                    wheelIndex: index)
            }
        }
        buckets[here].count = 0
        current = (here + 1) & ringMask
    }

    @inline(__always)
    private func push(_ target: Int, quotient: Int, offset: Int, wheelIndex: Int) {
        if buckets[target].count == buckets[target].capacity { grow(target) }
        let packed = UInt64(truncatingIfNeeded: offset << 6 | wheelIndex) << 32
        buckets[target].entries![buckets[target].count] = packed | UInt64(truncatingIfNeeded: quotient)
        buckets[target].count += 1
    }

    private func grow(_ target: Int) {
        let old = buckets[target]
        let capacity = max(1024, old.capacity * 2)
        let entries = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        if let previous = old.entries {
            entries.update(from: previous, count: old.count)
            previous.deallocate()
        }
        buckets[target].entries = entries
        buckets[target].capacity = capacity
    }
}
