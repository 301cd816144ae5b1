/// Squares multi-limb numbers (little-endian `UInt64` limbs) on raw buffers: the inner loop of the
/// Lucas–Lehmer test, where nearly all of the kernel's time goes.
///
/// Schoolbook squaring computes each cross product a[i]·a[j] (i < j) once, doubles their sum with one shift,
/// and adds the diagonal a[i]²: about n²/2 limb products instead of n². The cross products are taken in
/// blocks of 8 × 8 limbs by column (`LimbSquaring+Blocks.swift`), which keeps the sums in registers and
/// the loop branches predictable. Above `karatsubaThreshold` limbs, Karatsuba squaring replaces one square
/// of n limbs by three squares of n/2 limbs.
enum LimbSquaring {
    /// The size from which Karatsuba beats schoolbook squaring, measured with `swiftc -O` on an x86-64
    /// Xeon (see the kernel's README).
    static let karatsubaThreshold = 40

    /// How many scratch limbs `square` needs for an `n`-limb operand.
    static func scratchCount(limbs n: Int, threshold: Int = karatsubaThreshold) -> Int {
        guard n >= max(threshold, 4) else { return 0 }
        let low = (n + 1) / 2
        return 3 * low + scratchCount(limbs: low, threshold: threshold)
    }

    /// Writes a² into `result[0 ..< 2n]`. `result` must not overlap `a`; `scratch` holds
    /// `scratchCount(limbs: n, threshold:)` limbs.
    static func square(
        _ result: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, count n: Int,
        scratch: UnsafeMutablePointer<UInt64>, threshold: Int = karatsubaThreshold
    ) {
        if n < max(threshold, 4) {
            schoolbook(result, a, count: n)
        } else {
            karatsuba(result, a, count: n, scratch: scratch, threshold: threshold)
        }
    }

    /// Schoolbook squaring: the cross products a[i]·a[j] (i < j) summed into r by 8-limb blocks, then each
    /// block's 16 limbs doubled with the diagonal a[i]² added. A last partial block of 1 to 7 limbs has its
    /// own kernels, so that no size pays for padding.
    static func schoolbook(_ r: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, count n: Int) {
        let end = 2 &* n
        r.update(repeating: 0, count: end)
        // Indices use wrapping arithmetic: they are bounded by 2n, and overflow checks cost measurable time.
        let blocks = n / 8
        let whole = 8 &* blocks
        let partial = n &- whole
        var i = 0
        while i < blocks {
            let x = a + 8 &* i
            var j = i &+ 1
            while j < blocks {
                let at = 8 &* (i &+ j)
                addCarry(mulAdd8(r + at, x, a + 8 &* j), into: r, at: at &+ 16, end: end)
                j &+= 1
            }
            if partial > 0 {
                let at = 8 &* (i &+ blocks)
                addCarry(mulAddPartial(r + at, x, a + whole, count: partial), into: r, at: at &+ 8 &+ partial, end: end)
            }
            i &+= 1
        }
        // Each block adds its own cross products, doubles and adds its diagonal over its 2·size limbs of r.
        var carry: UInt128 = 0
        i = 0
        while i < blocks {
            finishSquare8(r + 16 &* i, a + 8 &* i, carry: &carry)
            i &+= 1
        }
        if partial > 0 {
            finishSquarePartial(r + 2 &* whole, a + whole, count: partial, carry: &carry)
        }
    }

    /// Adds `carry` into r at limb `index`, rippling upward (rarely further than one limb). The sums being
    /// built never exceed the result's `end` limbs, so nothing is lost at the top.
    @inline(__always)
    static func addCarry(_ carry: UInt64, into r: UnsafeMutablePointer<UInt64>, at index: Int, end: Int) {
        var carry = carry
        var k = index
        while carry != 0 && k < end {
            let (sum, overflow) = r[k].addingReportingOverflow(carry)
            r[k] = sum
            carry = overflow ? 1 : 0
            k &+= 1
        }
    }

    /// Karatsuba squaring. With a = a1·B^h + a0 (B = 2⁶⁴): a² = a1²·B^2h + (a0² + a1² − (a0 − a1)²)·B^h + a0²,
    /// where |a0 − a1| keeps every intermediate non-negative.
    static func karatsuba(
        _ r: UnsafeMutablePointer<UInt64>, _ a: UnsafePointer<UInt64>, count n: Int,
        scratch: UnsafeMutablePointer<UInt64>, threshold: Int
    ) {
        let h = (n + 1) / 2  // low half; the high half has l = n − h limbs, h − 1 ≤ l ≤ h
        let l = n - h
        let difference = scratch  // h limbs
        let middle = scratch + h  // 2h limbs
        let deeper = scratch + 3 * h
        absoluteDifference(difference, a, h, a + h, l)
        square(r, a, count: h, scratch: deeper, threshold: threshold)
        square(r + 2 * h, a + h, count: l, scratch: deeper, threshold: threshold)
        square(middle, difference, count: h, scratch: deeper, threshold: threshold)
        // r holds L = a0² (limbs 0 ..< 2h) and H = a1² (limbs 2h ..< 2n); `middle` holds T = (a0 − a1)².
        // The result is L + (L + H − T)·B^h + H·B^2h. Cut each into halves of h limbs (L = L0 + L1·B^h, …)
        // and let S = L1 + H0; then limbs h ..< 2h become S + L0 − T0 and limbs 2h ..< 3h become
        // S + H1 − T1. One pass computes S and both with three carry chains; the chains' last carries
        // (small and signed) are added in at the end.
        // Subtraction adds the complement plus one: each chain starts with a carry of 1, so its carries stay
        // in 0 … 2 and its true carry is one less.
        let low0 = UnsafePointer(r)
        let low1 = r + h
        let high0 = r + 2 &* h
        let high1 = UnsafePointer(r + 3 &* h)
        let high1Count = 2 &* l &- h  // h or h − 2
        let t0 = UnsafePointer(middle)
        let t1 = UnsafePointer(middle + h)
        var carryS: UInt64 = 0
        var carryX: UInt64 = 1
        var carryY: UInt64 = 1
        var i = 0
        while i < high1Count {
            let s = UInt128(low1[i]) &+ UInt128(high0[i]) &+ UInt128(carryS)
            let sLimb = UInt128(UInt64(truncatingIfNeeded: s))
            carryS = UInt64(truncatingIfNeeded: s &>> 64)
            let x = sLimb &+ UInt128(low0[i]) &+ UInt128(~t0[i]) &+ UInt128(carryX)
            let y = sLimb &+ UInt128(high1[i]) &+ UInt128(~t1[i]) &+ UInt128(carryY)
            low1[i] = UInt64(truncatingIfNeeded: x)
            high0[i] = UInt64(truncatingIfNeeded: y)
            carryX = UInt64(truncatingIfNeeded: x &>> 64)
            carryY = UInt64(truncatingIfNeeded: y &>> 64)
            i &+= 1
        }
        while i < h {  // H1 has run out
            let s = UInt128(low1[i]) &+ UInt128(high0[i]) &+ UInt128(carryS)
            let sLimb = UInt128(UInt64(truncatingIfNeeded: s))
            carryS = UInt64(truncatingIfNeeded: s &>> 64)
            let x = sLimb &+ UInt128(low0[i]) &+ UInt128(~t0[i]) &+ UInt128(carryX)
            let y = sLimb &+ UInt128(~t1[i]) &+ UInt128(carryY)
            low1[i] = UInt64(truncatingIfNeeded: x)
            high0[i] = UInt64(truncatingIfNeeded: y)
            carryX = UInt64(truncatingIfNeeded: x &>> 64)
            carryY = UInt64(truncatingIfNeeded: y &>> 64)
            i &+= 1
        }
        // The sum is a² < B^2n: adding the chains' last carries modulo B^2n gives it exactly.
        addSignedCarry(Int128(carryY) &- 1 &+ Int128(carryS), into: r, at: 3 &* h, end: 2 &* n)
        addSignedCarry(Int128(carryX) &- 1 &+ Int128(carryS), into: r, at: 2 &* h, end: 2 &* n)
    }

    /// Adds a small signed carry into r at limb `index`, rippling upward, modulo B^end.
    @inline(__always)
    private static func addSignedCarry(_ carry: Int128, into r: UnsafeMutablePointer<UInt64>, at index: Int, end: Int) {
        var carry = carry
        var k = index
        while carry != 0 && k < end {
            let v = Int128(r[k]) &+ carry
            r[k] = UInt64(truncatingIfNeeded: v)
            carry = v &>> 64
            k &+= 1
        }
    }

    /// Writes |x − y| into `result` (`xCount` limbs), where y has `yCount` ≤ `xCount` limbs.
    private static func absoluteDifference(
        _ result: UnsafeMutablePointer<UInt64>, _ x: UnsafePointer<UInt64>, _ xCount: Int,
        _ y: UnsafePointer<UInt64>, _ yCount: Int
    ) {
        // Compare from the top; a missing high limb of y counts as zero.
        var yIsLarger = false
        var i = xCount - 1
        while i >= 0 {
            let yi = i < yCount ? y[i] : 0
            if x[i] != yi {
                yIsLarger = yi > x[i]
                break
            }
            i -= 1
        }
        let (big, bigCount, small, smallCount) = yIsLarger ? (y, yCount, x, xCount) : (x, xCount, y, yCount)
        var borrow: UInt64 = 0
        i = 0
        while i < xCount {
            let bi = i < bigCount ? big[i] : 0
            let si = i < smallCount ? small[i] : 0
            let (d1, u1) = bi.subtractingReportingOverflow(si)
            let (d2, u2) = d1.subtractingReportingOverflow(borrow)
            result[i] = d2
            borrow = (u1 || u2) ? 1 : 0
            i &+= 1
        }
    }
}
