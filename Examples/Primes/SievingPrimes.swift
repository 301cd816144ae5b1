import Synchronization

/// The sieving primes for a range: every prime `p` with 163 < p and p * p < to.
enum SievingPrimes {
    /// The longest list computed so far in this process and its limit: units of one job all need the same
    /// primes, and below 10^9 computing them would be a tenth of a unit's work.
    private static let cache = Mutex<(limit: Int, primes: [UInt32])>((0, []))

    /// The sieving primes for a range ending (exclusively) at `to`.
    static func forRange(endingAt to: Int) -> ArraySlice<UInt32> {
        let limit = to <= 1 ? 0 : integerSquareRoot(to - 1)
        if let primes = cache.withLock({ cached -> ArraySlice<UInt32>? in
            guard limit <= cached.limit else { return nil }
            let count = cached.primes.partitioningIndex { Int($0) > limit }
            return cached.primes[..<count]
        }) {
            return primes
        }
        // Units of a job come in increasing order: compute ahead so that the next ones find their primes here.
        let ahead = max(1 << 16, 1 << (Int.bitWidth - limit.leadingZeroBitCount))
        let primes = upTo(ahead)
        cache.withLock { cached in
            if ahead > cached.limit { cached = (ahead, primes) }
        }
        return primes[..<primes.partitioningIndex { Int($0) > limit }]
    }

    /// The primes `p` with 163 < p <= limit, in increasing order.
    static func upTo(_ limit: Int) -> [UInt32] {
        guard limit > PreSieve.largestPrime else { return [] }
        if limit < 1 << 16 {
            return simpleSieve(upTo: limit).filter { $0 > PreSieve.largestPrime }.map { UInt32($0) }
        }
        // Larger lists come from the segmented sieve itself, whose own sieving primes are few.
        let inner = simpleSieve(upTo: integerSquareRoot(limit)).filter { $0 > PreSieve.largestPrime }
        let sieve = SegmentedSieve(
            from: PreSieve.largestPrime + 1, to: limit + 1, sievingPrimes: inner.map { UInt32($0) }[...])
        var primes: [UInt32] = []
        // pi(x) < 1.26 x / ln x; the bit length times ln 2 is within one of ln x.
        let logLimit = Double(Int.bitWidth - limit.leadingZeroBitCount - 1) * 0.693
        primes.reserveCapacity(Int(1.3 * Double(limit) / logLimit) + 16)
        while sieve.sieveNextSegment() {
            sieve.forEachPrime { primes.append(UInt32($0)) }
        }
        return primes
    }

    /// The primes up to `limit` by a plain odd-only sieve; for small limits only.
    static func simpleSieve(upTo limit: Int) -> [Int] {
        guard limit >= 2 else { return [] }
        var composite = [Bool](repeating: false, count: limit / 2 + 1)
        var primes = [2]
        var i = 1
        while 2 * i + 1 <= limit {
            if !composite[i] {
                let p = 2 * i + 1
                primes.append(p)
                var j = p * p / 2
                while j < composite.count {
                    composite[j] = true
                    j += p
                }
            }
            i += 1
        }
        return primes
    }

    /// The largest `r` with r * r <= n.
    static func integerSquareRoot(_ n: Int) -> Int {
        precondition(n >= 0)
        var r = Int(Double(n).squareRoot())
        while r > 0 && r > n / r { r -= 1 }
        while (r + 1) <= n / (r + 1) { r += 1 }
        return r
    }
}

extension Array where Element == UInt32 {
    /// The index of the first element for which `belongs` holds, in an array partitioned by it.
    fileprivate func partitioningIndex(where belongs: (UInt32) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if belongs(self[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}
