/// The modulo-30 wheel: one sieve byte stands for 30 consecutive numbers, one bit for each of the 8 residues
/// coprime to 30 (1, 7, 11, 13, 17, 19, 23, 29), so multiples of 2, 3 and 5 take no space at all.
///
/// Bit `k` of byte `b` is the number `30 * b + residues[k]`. A sieving prime `p = 30 * q + r` crosses off
/// `p * m` for the multipliers `m` coprime to 30. As `m` runs through one turn of the wheel (8 values spanning
/// 30) the multiples land at byte offsets from the turn's first multiple, and on bits, that depend only on `q`
/// and `r`: that is what lets the sieving loops be unrolled with constant masks.
enum Wheel30 {
    /// The residues coprime to 30, in bit order.
    static let residues: [Int] = [1, 7, 11, 13, 17, 19, 23, 29]

    /// Per residue modulo 30: its bit index, or 0xFF when it shares a factor with 30.
    static let bitOfResidue: [UInt8] = (0..<30).map { x in UInt8(residues.firstIndex(of: x) ?? 0xFF) }

    /// Per residue modulo 30: how far it is to the next residue coprime to 30 (0 when it is one).
    static let distanceToCoprime: [Int] = (0..<30).map { x in
        (0..<7).first { bitOfResidue[(x + $0) % 30] != 0xFF }!
    }

    /// For multiplier residue index `k`: the multiplier grows by `gaps[k]` to the next residue.
    static let gaps: [Int] = [6, 4, 2, 4, 2, 4, 6, 2]

    /// Per wheel index (prime residue index × 8 + multiplier residue index `k`): the step from multiple `k` to
    /// multiple `k + 1` of a prime `30q + r` is `q * gaps[k] + carries[index]` bytes.
    static let carries: [UInt8] = (0..<64).map { index in
        let r = residues[index >> 3]
        let k = index & 7
        return UInt8(((r * residues[k]) % 30 + r * gaps[k]) / 30)
    }

    /// Per wheel index: the mask that clears the multiple's bit.
    static let masks: [UInt8] = (0..<64).map { index in
        mask(r: residues[index >> 3], k: index & 7)
    }

    /// The residue of bit `k` (0...7); a switch so that constant arguments fold away in the unrolled loops.
    @inline(__always)
    static func residue(_ k: Int) -> Int {
        switch k {
        case 0: 1
        case 1: 7
        case 2: 11
        case 3: 13
        case 4: 17
        case 5: 19
        case 6: 23
        default: 29
        }
    }

    /// The bit of residue `x`, which must be coprime to 30; a switch for the same reason as `residue(_:)`.
    @inline(__always)
    static func bit(ofResidue x: Int) -> Int {
        switch x {
        case 1: 0
        case 7: 1
        case 11: 2
        case 13: 3
        case 17: 4
        case 19: 5
        case 23: 6
        default: 7
        }
    }

    /// The byte offset, from the turn's first multiple, of multiple `k` (0...7) of a prime `30q + r`.
    ///
    /// The first multiple of a turn is `p * (30a + 1)`, which is `r` modulo 30; multiple `k` is
    /// `p * (residue(k) - 1)` further on, hence `q * (residue(k) - 1)` whole bytes plus a carry.
    @inline(__always)
    static func offset(q: Int, r: Int, k: Int) -> Int {
        q &* (residue(k) &- 1) &+ (r &* residue(k)) / 30
    }

    /// The mask that clears multiple `k`'s bit in its byte, for a prime that is `r` modulo 30.
    @inline(__always)
    static func mask(r: Int, k: Int) -> UInt8 {
        ~(1 << UInt8(bit(ofResidue: (r &* residue(k)) % 30)))
    }

    /// The bits of a byte whose numbers are at least `30b + x`, for `x` in 0...30.
    static func bitsAtOrAbove(_ x: Int) -> UInt8 {
        var bits: UInt8 = 0
        for k in 0..<8 where residue(k) >= x { bits |= 1 << UInt8(k) }
        return bits
    }
}
