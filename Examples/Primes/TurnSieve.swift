/// A sieving prime crossed off in whole wheel turns: its state between windows (chunks or segments), 8 bytes.
struct TurnPrime {
    /// The byte offset, from the start of the next window, of the first multiple of the wheel turn to do next
    /// (from -p on).
    var turnStart: Int32
    /// The prime divided by 30.
    var quotient: UInt32
}

/// Crossing off in whole wheel turns, window by window: chunks of a segment for the small primes, whole
/// segments for the medium ones.
///
/// A turn of the wheel is 8 multiples in `p` bytes at offsets and bits that depend only on `p`. Crossing off
/// whole turns, with no test between the multiples, is the fastest loop there is; the price is that the first
/// and last turns of a window reach up to `p` bytes beyond either end. That is harmless by construction:
/// - before the window lie either earlier chunks of the segment, where the writes clear bits of multiples of `p`
///   (composites) that are already clear, or a guard zone that is never read;
/// - after the window lies either the next chunk, which is filled from the pre-sieve patterns before it is
///   sieved, or a guard zone; the turn that crossed the end is done again in the next window.
/// Tested bounds at both ends of every window cost more than that: a mispredicted exit per prime and window.
enum TurnSieve {
    /// Crosses off the multiples of every prime in `list` in the window `sieve[0..<end]`, writing up to `p`
    /// bytes before and after it, and leaves each prime's state relative to `end`.
    static func crossOff(_ sieve: UnsafeMutablePointer<UInt8>, end: Int, _ list: ResidueClassList<TurnPrime>) {
        crossOff(sieve, end, list.primes(inClass: 0), Residue1.self)
        crossOff(sieve, end, list.primes(inClass: 1), Residue7.self)
        crossOff(sieve, end, list.primes(inClass: 2), Residue11.self)
        crossOff(sieve, end, list.primes(inClass: 3), Residue13.self)
        crossOff(sieve, end, list.primes(inClass: 4), Residue17.self)
        crossOff(sieve, end, list.primes(inClass: 5), Residue19.self)
        crossOff(sieve, end, list.primes(inClass: 6), Residue23.self)
        crossOff(sieve, end, list.primes(inClass: 7), Residue29.self)
    }

    private static func crossOff<Residue: PrimeResidue>(
        _ s: UnsafeMutablePointer<UInt8>, _ end: Int, _ primes: UnsafeMutableBufferPointer<TurnPrime>,
        _: Residue.Type
    ) {
        let r = Residue.r
        let m0 = Wheel30.mask(r: r, k: 0)
        let m1 = Wheel30.mask(r: r, k: 1)
        let m2 = Wheel30.mask(r: r, k: 2)
        let m3 = Wheel30.mask(r: r, k: 3)
        let m4 = Wheel30.mask(r: r, k: 4)
        let m5 = Wheel30.mask(r: r, k: 5)
        let m6 = Wheel30.mask(r: r, k: 6)
        let m7 = Wheel30.mask(r: r, k: 7)
        for i in primes.indices {
            let q = Int(primes[i].quotient)
            let p = 30 &* q &+ r
            let o1 = Wheel30.offset(q: q, r: r, k: 1)
            let o2 = Wheel30.offset(q: q, r: r, k: 2)
            let o3 = Wheel30.offset(q: q, r: r, k: 3)
            let o4 = Wheel30.offset(q: q, r: r, k: 4)
            let o5 = Wheel30.offset(q: q, r: r, k: 5)
            let o6 = Wheel30.offset(q: q, r: r, k: 6)
            let o7 = Wheel30.offset(q: q, r: r, k: 7)
            var b = Int(primes[i].turnStart)
            if b < end {
                repeat {
                    s[b] &= m0
                    s[b &+ o1] &= m1
                    s[b &+ o2] &= m2
                    s[b &+ o3] &= m3
                    s[b &+ o4] &= m4
                    s[b &+ o5] &= m5
                    s[b &+ o6] &= m6
                    s[b &+ o7] &= m7
                    b &+= p
                } while b < end
                // Do the last turn again in the next window if it reached past this one.
                let last = b &- p
                b = last &+ o7 >= end ? last : b
            }
            primes[i].turnStart = Int32(truncatingIfNeeded: b &- end)
        }
    }
}
