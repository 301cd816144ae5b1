/// A sieving prime that hits a segment a few to a few dozen times: its state between segments.
struct MediumPrime {
    /// The byte offset of its next multiple, from the start of the next segment.
    var offset: UInt32
    /// The prime divided by 30.
    var quotient: UInt32
    /// The residue index (0...7) of the next multiple's multiplier.
    var multiplier: UInt8
}

/// Crossing off for medium primes, segment by segment: each prime finishes its current wheel turn multiple by
/// multiple, crosses off whole turns while they fit, then does the last turn multiple by multiple, so nothing
/// is written outside the segment.
enum MediumPrimeSieve {
    /// Crosses off the multiples of every prime in `list` in `sieve[0..<end]` and leaves each prime's next
    /// multiple as an offset from `end`, ready for the next window.
    static func crossOff(_ sieve: UnsafeMutablePointer<UInt8>, end: Int, _ list: ResidueClassList<MediumPrime>) {
        // One residue class at a time, so the dispatch to the specialised loop is not a branch per prime.
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
        _ sieve: UnsafeMutablePointer<UInt8>, _ end: Int, _ primes: UnsafeMutableBufferPointer<MediumPrime>,
        _ residue: Residue.Type
    ) {
        for i in primes.indices { cross(sieve, end, &primes[i], residue) }
    }

    /// One prime `30q + r`: finishes the current wheel turn multiple by multiple, crosses off whole turns
    /// (8 multiples, `p` bytes) while the whole turn fits, then does the last turn multiple by multiple.
    @inline(__always)
    private static func cross<Residue: PrimeResidue>(
        _ s: UnsafeMutablePointer<UInt8>, _ end: Int, _ prime: inout MediumPrime, _: Residue.Type
    ) {
        let r = Residue.r
        let q = Int(prime.quotient)
        let p = 30 &* q &+ r
        let o1 = Wheel30.offset(q: q, r: r, k: 1)
        let o2 = Wheel30.offset(q: q, r: r, k: 2)
        let o3 = Wheel30.offset(q: q, r: r, k: 3)
        let o4 = Wheel30.offset(q: q, r: r, k: 4)
        let o5 = Wheel30.offset(q: q, r: r, k: 5)
        let o6 = Wheel30.offset(q: q, r: r, k: 6)
        let o7 = Wheel30.offset(q: q, r: r, k: 7)
        let m0 = Wheel30.mask(r: r, k: 0)
        let m1 = Wheel30.mask(r: r, k: 1)
        let m2 = Wheel30.mask(r: r, k: 2)
        let m3 = Wheel30.mask(r: r, k: 3)
        let m4 = Wheel30.mask(r: r, k: 4)
        let m5 = Wheel30.mask(r: r, k: 5)
        let m6 = Wheel30.mask(r: r, k: 6)
        let m7 = Wheel30.mask(r: r, k: 7)
        var k = Int(prime.multiplier)
        // `b` is the byte of the current turn's first multiple; it may lie before the window.
        var b = Int(prime.offset)
        switch k {
        case 0: break
        case 1: b &-= o1
        case 2: b &-= o2
        case 3: b &-= o3
        case 4: b &-= o4
        case 5: b &-= o5
        case 6: b &-= o6
        default: b &-= o7
        }
        var next = 0
        scan: while true {
            switch k {
            case 0:
                if b >= end { next = b; k = 0; break scan }
                s[b] &= m0
                fallthrough
            case 1:
                if b &+ o1 >= end { next = b &+ o1; k = 1; break scan }
                s[b &+ o1] &= m1
                fallthrough
            case 2:
                if b &+ o2 >= end { next = b &+ o2; k = 2; break scan }
                s[b &+ o2] &= m2
                fallthrough
            case 3:
                if b &+ o3 >= end { next = b &+ o3; k = 3; break scan }
                s[b &+ o3] &= m3
                fallthrough
            case 4:
                if b &+ o4 >= end { next = b &+ o4; k = 4; break scan }
                s[b &+ o4] &= m4
                fallthrough
            case 5:
                if b &+ o5 >= end { next = b &+ o5; k = 5; break scan }
                s[b &+ o5] &= m5
                fallthrough
            case 6:
                if b &+ o6 >= end { next = b &+ o6; k = 6; break scan }
                s[b &+ o6] &= m6
                fallthrough
            default:
                if b &+ o7 >= end { next = b &+ o7; k = 7; break scan }
                s[b &+ o7] &= m7
                b &+= p
                // Whole turns: no bounds test between the 8 multiples.
                while b &+ o7 < end {
                    s[b] &= m0
                    s[b &+ o1] &= m1
                    s[b &+ o2] &= m2
                    s[b &+ o3] &= m3
                    s[b &+ o4] &= m4
                    s[b &+ o5] &= m5
                    s[b &+ o6] &= m6
                    s[b &+ o7] &= m7
                    b &+= p
                }
                k = 0
            }
        }
        prime.offset = UInt32(truncatingIfNeeded: next &- end)
        prime.multiplier = UInt8(truncatingIfNeeded: k)
    }
}
