import Synchronization

/// The large buffers of a `SegmentedSieve`, recycled through a process-wide pool.
///
/// A unit above 10^12 needs about 1.4 MB of sieve and bucket memory; fresh from the system that is some 350
/// page faults, which cost as much as sieving a whole segment. Workers run unit after unit, so each sieve takes
/// its memory from the pool and gives it back when it is done.
final class SieveMemory: @unchecked Sendable {  // One sieve owns it at a time; the pool hands it over locked.
    /// Bytes of guard zone on either side of the sieve bytes.
    let guardBytes: Int
    /// The sieve bytes: `segmentBytes` with `guardBytes` before and after (all initialised).
    let sieve: UnsafeMutablePointer<UInt8>
    /// The bucket sieve of the last user, kept with its grown buckets.
    private var buckets: BucketSieve?

    private static let pool = Mutex<[SieveMemory]>([])
    /// Enough for one sieve per core of a large machine; more would only hold memory.
    private static let poolLimit = 64

    private init(segmentBytes: Int, guardBytes: Int) {
        self.guardBytes = guardBytes
        let total = segmentBytes + 2 * guardBytes
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: total)
        buffer.initialize(repeating: 0, count: total)
        sieve = buffer + guardBytes
    }

    deinit {
        (sieve - guardBytes).deallocate()
    }

    /// Memory for a sieve with segments of `segmentBytes` and the given guard zones, from the pool if it has some.
    static func take(segmentBytes: Int, guardBytes: Int) -> SieveMemory {
        let recycled = pool.withLock { $0.popLast() }
        if let recycled, recycled.guardBytes == guardBytes { return recycled }
        return SieveMemory(segmentBytes: segmentBytes, guardBytes: guardBytes)
    }

    /// An empty bucket sieve for primes up to `largestPrime`, reusing the last one when its ring is long enough.
    func bucketSieve(segmentBytes: Int, largestPrime: Int) -> BucketSieve {
        if let buckets, buckets.reset(segmentBytes: segmentBytes, largestPrime: largestPrime) { return buckets }
        let fresh = BucketSieve(segmentBytes: segmentBytes, largestPrime: largestPrime)
        buckets = fresh
        return fresh
    }

    /// Returns the memory to the pool; the caller must not use it afterwards.
    func recycle() {
        Self.pool.withLock { pool in
            if pool.count < Self.poolLimit { pool.append(self) }
        }
    }
}
