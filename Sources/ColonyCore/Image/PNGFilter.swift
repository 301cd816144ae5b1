/// How rows are filtered before compression (PNG specification, section 9). Filtering turns smooth images into
/// small numbers that compress well; `.adaptive` picks a filter per row.
public struct PNGFilter: Hashable, Sendable, CustomStringConvertible {
    /// The filter type byte, or nil for the per-row choice.
    let fixedType: UInt8?

    /// Rows stored as they are (type 0); the cheapest to write.
    public static let none = PNGFilter(fixedType: 0)
    /// Each byte minus the byte one pixel to the left (type 1).
    public static let sub = PNGFilter(fixedType: 1)
    /// Each byte minus the byte above (type 2).
    public static let up = PNGFilter(fixedType: 2)
    /// Each byte minus the mean of left and above (type 3).
    public static let average = PNGFilter(fixedType: 3)
    /// Each byte minus the Paeth predictor of left, above and upper left (type 4).
    public static let paeth = PNGFilter(fixedType: 4)
    /// Per row, the filter whose output has the smallest sum of absolute values (as signed bytes): the rule of
    /// thumb libpng uses for true-color images, and what the writers use unless told otherwise.
    public static let adaptive = PNGFilter(fixedType: nil)

    public var description: String {
        switch fixedType {
        case 0: "none"
        case 1: "sub"
        case 2: "up"
        case 3: "average"
        case 4: "paeth"
        default: "adaptive"
        }
    }
}

/// Filters rows: one filter type byte, then the filtered bytes (PNG section 9.2).
enum PNGRowFilter {
    /// Filters `row` (whose upper neighbour is `previous`, all zeros for the first row) with `filter` into
    /// `candidates`, which holds `5 × (row.count + 1)` bytes; returns the chosen filtered row, a slice of it.
    static func filter(
        _ row: UnsafeRawBufferPointer, previous: UnsafeRawBufferPointer, using filter: PNGFilter,
        bytesPerPixel: Int, candidates: UnsafeMutableRawBufferPointer
    ) -> UnsafeRawBufferPointer {
        precondition(row.count == previous.count && candidates.count >= 5 * (row.count + 1))
        let stride = row.count + 1
        let types: ClosedRange<UInt8> = filter.fixedType.map { $0...$0 } ?? 0...4
        let rowBytes = row.bindMemory(to: UInt8.self)
        let previousBytes = previous.bindMemory(to: UInt8.self)
        let output = candidates.bindMemory(to: UInt8.self).baseAddress!
        var best = 0
        var bestScore = Int.max
        for (slot, type) in types.enumerated() {
            let score = apply(
                type, row: rowBytes, previous: previousBytes, bytesPerPixel: bytesPerPixel,
                output: output + slot * stride)
            if score < bestScore {
                bestScore = score
                best = slot
            }
        }
        return UnsafeRawBufferPointer(start: output + best * stride, count: stride)
    }

    /// Writes filter `type` of `row` to `output` and returns the sum of the filtered bytes' magnitudes as signed
    /// values, the adaptive choice's score.
    private static func apply(
        _ type: UInt8, row: UnsafeBufferPointer<UInt8>, previous: UnsafeBufferPointer<UInt8>, bytesPerPixel: Int,
        output: UnsafeMutablePointer<UInt8>
    ) -> Int {
        output[0] = type
        let out = output + 1
        let count = row.count
        let x = row.baseAddress!
        let b = previous.baseAddress!
        var score = 0
        @inline(__always) func put(_ index: Int, _ value: UInt8) {
            out[index] = value
            score &+= value < 128 ? Int(value) : 256 - Int(value)
        }
        switch type {
        case 0:
            for i in 0..<count { put(i, x[i]) }
        case 1:
            for i in 0..<min(bytesPerPixel, count) { put(i, x[i]) }
            for i in bytesPerPixel..<max(bytesPerPixel, count) { put(i, x[i] &- x[i - bytesPerPixel]) }
        case 2:
            for i in 0..<count { put(i, x[i] &- b[i]) }
        case 3:
            for i in 0..<min(bytesPerPixel, count) { put(i, x[i] &- b[i] / 2) }
            for i in bytesPerPixel..<max(bytesPerPixel, count) {
                put(i, x[i] &- UInt8((UInt16(x[i - bytesPerPixel]) + UInt16(b[i])) / 2))
            }
        default:
            // With no pixel to the left, the Paeth predictor is the byte above.
            for i in 0..<min(bytesPerPixel, count) { put(i, x[i] &- b[i]) }
            for i in bytesPerPixel..<max(bytesPerPixel, count) {
                put(i, x[i] &- paeth(x[i - bytesPerPixel], b[i], b[i - bytesPerPixel]))
            }
        }
        return score
    }

    /// The predictor of PNG section 9.4: whichever of left, above and upper left is closest to left + above -
    /// upper left, ties going in that order.
    @inline(__always)
    private static func paeth(_ left: UInt8, _ above: UInt8, _ upperLeft: UInt8) -> UInt8 {
        let estimate = Int(left) + Int(above) - Int(upperLeft)
        let toLeft = abs(estimate - Int(left))
        let toAbove = abs(estimate - Int(above))
        let toUpperLeft = abs(estimate - Int(upperLeft))
        if toLeft <= toAbove && toLeft <= toUpperLeft { return left }
        if toAbove <= toUpperLeft { return above }
        return upperLeft
    }
}
