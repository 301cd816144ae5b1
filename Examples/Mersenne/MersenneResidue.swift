/// A residue modulo the Mersenne number 2^p − 1, held in `UInt64` limbs, with the one operation the
/// Lucas–Lehmer test needs: s ← s² − 2.
///
/// A final class because it owns manually allocated buffers (value, double-width product and Karatsuba
/// scratch) that every iteration reuses; it is never shared between threads.
final class MersenneResidue {
    /// The exponent p of the modulus 2^p − 1.
    let exponent: Int
    /// Limbs per residue: ⌈p / 64⌉.
    let limbCount: Int

    private let value: UnsafeMutablePointer<UInt64>
    private let product: UnsafeMutablePointer<UInt64>
    private let scratch: UnsafeMutablePointer<UInt64>
    private let threshold: Int
    /// Bits of p in the top limb (1…64) and the mask that keeps them.
    private let topMask: UInt64

    /// The residue `start` (a small number) modulo 2^p − 1, for p ≥ 3.
    init(exponent p: Int, start: UInt64, karatsubaThreshold: Int = LimbSquaring.karatsubaThreshold) {
        precondition(p >= 3, "MersenneResidue needs p ≥ 3")
        exponent = p
        limbCount = (p + 63) / 64
        threshold = karatsubaThreshold
        let topBits = p - 64 * (limbCount - 1)
        topMask = topBits == 64 ? .max : (UInt64(1) << UInt64(topBits)) - 1
        value = .allocate(capacity: limbCount)
        product = .allocate(capacity: 2 * limbCount)
        let scratchCount = LimbSquaring.scratchCount(limbs: limbCount, threshold: karatsubaThreshold)
        scratch = .allocate(capacity: max(1, scratchCount))
        value.initialize(repeating: 0, count: limbCount)
        product.initialize(repeating: 0, count: 2 * limbCount)
        scratch.initialize(repeating: 0, count: max(1, scratchCount))
        precondition(limbCount > 1 || start < topMask, "the start value must be below 2^p − 1")
        value[0] = start
    }

    /// Restores a residue from `limbs`; nil unless there are exactly ⌈p/64⌉ limbs holding a value ≤ 2^p − 1.
    convenience init?(exponent p: Int, limbs: [UInt64], karatsubaThreshold: Int = LimbSquaring.karatsubaThreshold) {
        guard p >= 3, limbs.count == (p + 63) / 64 else { return nil }
        self.init(exponent: p, start: 0, karatsubaThreshold: karatsubaThreshold)
        guard limbs[limbs.count - 1] & ~topMask == 0 else { return nil }
        for (index, limb) in limbs.enumerated() { value[index] = limb }
    }

    deinit {
        value.deallocate()
        product.deallocate()
        scratch.deallocate()
    }

    /// The limbs as stored (2^p − 1 is a second spelling of zero, kept because it is cheaper than testing).
    var limbs: [UInt64] { Array(UnsafeBufferPointer(start: value, count: limbCount)) }

    /// Whether the residue is zero modulo 2^p − 1 (stored as 0 or as 2^p − 1).
    var isZero: Bool {
        var any: UInt64 = 0
        for i in 0..<limbCount { any |= value[i] }
        if any == 0 { return true }
        for i in 0..<(limbCount - 1) where value[i] != .max { return false }
        return value[limbCount - 1] == topMask
    }

    /// The low 64 bits of the residue in canonical form (0 ≤ s < 2^p − 1): GIMPS calls this the res64.
    var low64: UInt64 { isZero ? 0 : value[0] }

    /// s ← s² − 2 (mod 2^p − 1).
    func squareMinusTwo() {
        LimbSquaring.square(product, value, count: limbCount, scratch: scratch, threshold: threshold)
        foldProduct()
        subtractTwo()
    }

    /// s ← s² (mod 2^p − 1), for tests of the arithmetic.
    func square() {
        LimbSquaring.square(product, value, count: limbCount, scratch: scratch, threshold: threshold)
        foldProduct()
    }

    /// Reduces the 2n-limb product P < 2^2p into `value`: with P = H·2^p + L, 2^p ≡ 1 gives P ≡ H + L, and
    /// H + L < 2^(p+1) needs one more fold of its bit p.
    private func foldProduct() {
        let n = limbCount
        let q = exponent >> 6  // whole limbs below bit p
        let s = UInt64(exponent & 63)  // bit offset of p within limb q
        var carry: UInt64 = 0
        var i = 0
        if s == 0 {
            while i < n {
                let (x, o1) = product[i].addingReportingOverflow(product[q &+ i])
                let (y, o2) = x.addingReportingOverflow(carry)
                value[i] = y
                carry = (o1 ? 1 : 0) &+ (o2 ? 1 : 0)
                i &+= 1
            }
        } else {
            // Limbs below limb q of L are whole; limb i of H is bits p + 64i … p + 64i + 63 of P.
            let back = 64 &- s
            let upper = UnsafePointer(product + q)
            var next = upper[0]
            while i < q {
                let following = upper[i &+ 1]
                let high = (next &>> s) | (following &<< back)
                next = following
                let t = UInt128(product[i]) &+ UInt128(high) &+ UInt128(carry)
                value[i] = UInt64(truncatingIfNeeded: t)
                carry = UInt64(truncatingIfNeeded: t &>> 64)
                i &+= 1
            }
            // Top limb: s bits of L plus the top s bits of H (H < 2^p); no carry can leave the limb.
            let high = (product[q &+ q] &>> s) | (product[q &+ q &+ 1] &<< back)
            let top = (product[q] & topMask) &+ high &+ carry
            value[q] = top & topMask
            carry = top &>> s
        }
        // Bit p (and above) of H + L folds back to bit 0; it is at most 1 and cannot ripple past 2^p − 1.
        i = 0
        while carry != 0 && i < n {
            let (x, o) = value[i].addingReportingOverflow(carry)
            value[i] = x
            carry = o ? 1 : 0
            i &+= 1
        }
    }

    /// s ← s − 2 (mod 2^p − 1), with s ≤ 2^p − 1 before and after.
    private func subtractTwo() {
        if value[0] >= 2 {
            value[0] &-= 2
            return
        }
        var i = 1
        while i < limbCount && value[i] == 0 { i += 1 }
        if i < limbCount {
            // s ≥ 2^64: borrow 2 from limb 0 and ripple the borrow up to the first non-zero limb.
            value[0] &-= 2
            for j in 1..<i { value[j] = .max }
            value[i] -= 1
        } else {
            // s ∈ {0, 1}: s − 2 + (2^p − 1).
            let small = value[0]
            for j in 0..<(limbCount - 1) { value[j] = .max }
            value[limbCount - 1] = topMask
            value[0] -= 2 - small
        }
    }
}
