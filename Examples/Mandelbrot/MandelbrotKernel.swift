import ColonyCore
import ColonyKernel
import Foundation

/// Renders the Mandelbrot set: each unit computes a band of rows (escape iteration counts per pixel), and
/// assembling colours the bands and streams them into one PNG.
public struct MandelbrotKernel: ComputeKernel {
    public static let name = "mandelbrot"
    public static let version = 1
    public static let summary = "Renders a view of the Mandelbrot set into a PNG, one band of rows per unit"
    public static let parameters = [
        KernelParameterInfo("width", "image width in pixels, 16 to 32768 (default 4096)"),
        KernelParameterInfo("height", "image height in pixels, 16 to 32768 (default: the width)"),
        KernelParameterInfo("centerX", "real part of the view's centre, -4 to 4 (default -0.75)"),
        KernelParameterInfo("centerY", "imaginary part of the view's centre, -4 to 4 (default 0)"),
        KernelParameterInfo("span", "width of the view on the real axis, 1e-13 to 8 (default 3)"),
        KernelParameterInfo("maxIterations", "iterations before a point counts as inside, 16 to 65535 (default 1000)"),
        KernelParameterInfo("rowsPerUnit", "rows per unit, 1 to 4096 (default 64)"),
    ]

    /// Pixels in an image: at most 2^28, as the PNG writer allows.
    static let maximumPixels = 1 << 28
    /// The limits of `width` and `height`.
    static let sideRange = 16...32_768
    /// The limits of `centerX` and `centerY`.
    static let centerRange = -4.0...4.0
    /// The limits of `span`.
    static let spanRange = 1e-13...8.0
    /// The limits of `maxIterations`: counts are stored as UInt16.
    static let maxIterationsRange = 16...65_535
    /// The limits of `rowsPerUnit`: a unit computes at most 4096 × 32768 = 2^27 pixels (256 MiB of counts).
    static let rowsPerUnitRange = 1...4096
    /// Outputs are compressed counts; inflating one may produce at most this many bytes.
    static let maximumBandBytes = 2 * 32_768 * 4096 + 64

    public init() {}

    struct View: Codable, Equatable {
        var width: Int
        var height: Int
        var centerX: Double
        var centerY: Double
        var span: Double
        var maxIterations: Int

        var pixelSize: Double { span / Double(width) }

        func point(column: Int, row: Int) -> (x: Double, y: Double) {
            (
                centerX + (Double(column) - Double(width) / 2 + 0.5) * pixelSize,
                centerY - (Double(row) - Double(height) / 2 + 0.5) * pixelSize
            )
        }
    }

    struct Unit: Codable, Equatable {
        var view: View
        var firstRow: Int
        var rows: Int
    }

    /// A band's escape counts: `rows × width` little-endian UInt16s (maxIterations means inside), zlib-compressed.
    struct Band: Codable, Equatable {
        var firstRow: Int
        var rows: Int
        var width: Int
        var counts: Data
    }

    /// The counts of the band's first pixels, row by row; `rowsDone` counts the whole rows among them.
    struct Checkpoint: Codable {
        var rowsDone: Int
        var counts: Data
    }

    func view(from parameters: KernelParameters) throws -> View {
        let width = try parameters.int("width", default: 4096, in: Self.sideRange)
        let height = try parameters.int("height", default: width, in: Self.sideRange)
        try parameters.require(
            width * height <= Self.maximumPixels, field: "height",
            "gives \(width)×\(height) pixels; at most \(Self.maximumPixels) are allowed")
        return View(
            width: width, height: height,
            centerX: try parameters.double("centerX", default: -0.75, in: Self.centerRange),
            centerY: try parameters.double("centerY", default: 0, in: Self.centerRange),
            span: try parameters.double("span", default: 3, in: Self.spanRange),
            maxIterations: try parameters.int("maxIterations", default: 1000, in: Self.maxIterationsRange))
    }

    public func units(for parameters: KernelParameters) throws -> [Data] {
        let view = try view(from: parameters)
        let rowsPerUnit = try parameters.int("rowsPerUnit", default: 64, in: Self.rowsPerUnitRange)
        return stride(from: 0, to: view.height, by: rowsPerUnit).map {
            KernelCoding.encode(Unit(view: view, firstRow: $0, rows: min(rowsPerUnit, view.height - $0)))
        }
    }

    public func run(_ input: Data, context: KernelContext) throws -> Data {
        let unit = try KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input")
        try validate(unit)
        let view = unit.view
        let pixels = unit.rows * view.width
        var counts = [UInt16]()
        counts.reserveCapacity(pixels)
        if let checkpoint = context.restore(Checkpoint.self), checkpoint.counts.count % 2 == 0,
            checkpoint.counts.count / 2 <= pixels, checkpoint.rowsDone == checkpoint.counts.count / 2 / view.width
        {
            counts.append(contentsOf: Self.decodeCounts(checkpoint.counts))
        }
        // A step after every row, or sooner: after at most 2^22 iterations' worth of pixels (milliseconds), since a
        // row of 32768 pixels at 65535 iterations each would run for seconds between steps, minutes where the
        // orbits pass through subnormal numbers.
        let pixelsPerStep = min(view.width, max(1, (1 << 22) / view.maxIterations))
        while counts.count < pixels {
            let row = unit.firstRow + counts.count / view.width
            let first = counts.count % view.width
            for column in first..<min(view.width, first + pixelsPerStep) {
                let (x, y) = view.point(column: column, row: row)
                // A count is at most maxIterations, which `validate` held to 65535: it fits.
                counts.append(UInt16(truncatingIfNeeded: Self.escapeCount(x: x, y: y, limit: view.maxIterations)))
            }
            let done = counts.count
            try context.step(progress: Double(done) / Double(pixels)) {
                KernelCoding.encode(Checkpoint(rowsDone: done / view.width, counts: Self.encodeCounts(counts)))
            }
        }
        let compressed = try Deflate.compress(Self.encodeCounts(counts))
        return KernelCoding.encode(Band(firstRow: unit.firstRow, rows: unit.rows, width: view.width, counts: compressed))
    }

    /// Checks a unit input, which comes from the publisher, against the limits `units(for:)` keeps to, so that no
    /// input can trap, allocate more than 2^27 counts or iterate more than 65535 times per pixel. Comparisons
    /// only, in an order where no sum or product can overflow.
    func validate(_ unit: Unit) throws(KernelDataError) {
        func refuse(_ reason: String) -> KernelDataError {
            KernelDataError(kernel: Self.name, what: "unit input", reason: reason)
        }
        let view = unit.view
        let sides = "\(Self.sideRange.lowerBound) to \(Self.sideRange.upperBound)"
        guard Self.sideRange.contains(view.width) else { throw refuse("view.width \(view.width) is not \(sides)") }
        guard Self.sideRange.contains(view.height) else { throw refuse("view.height \(view.height) is not \(sides)") }
        guard view.width * view.height <= Self.maximumPixels else {
            throw refuse("the view has \(view.width)×\(view.height) pixels; at most \(Self.maximumPixels) are allowed")
        }
        guard Self.maxIterationsRange.contains(view.maxIterations) else {
            throw refuse("view.maxIterations \(view.maxIterations) is not 16 to 65535")
        }
        // `contains` is false for NaN, so these also refuse NaN.
        guard Self.centerRange.contains(view.centerX), Self.centerRange.contains(view.centerY) else {
            throw refuse("the view's centre (\(view.centerX), \(view.centerY)) is not within -4 to 4")
        }
        guard Self.spanRange.contains(view.span) else { throw refuse("view.span \(view.span) is not 1e-13 to 8") }
        guard Self.rowsPerUnitRange.contains(unit.rows) else { throw refuse("rows \(unit.rows) is not 1 to 4096") }
        guard unit.firstRow >= 0, unit.firstRow <= view.height - unit.rows else {
            throw refuse("\(unit.rows) rows from row \(unit.firstRow) do not fit the view's \(view.height) rows")
        }
    }

    /// Two bands agree when at most one pixel in a thousand (and at least one pixel) differs: pixels on the set's
    /// boundary can escape an iteration sooner or later depending on how a machine rounds (fused multiply-add or
    /// not).
    public func equivalent(_ a: Data, _ b: Data) -> Bool {
        guard a != b else { return true }
        guard let first = try? decodeBand(a), let second = try? decodeBand(b),
            first.band.firstRow == second.band.firstRow, first.band.rows == second.band.rows,
            first.band.width == second.band.width, first.counts.count == second.counts.count
        else { return false }
        let differing = zip(first.counts, second.counts).reduce(0) { $0 + ($1.0 == $1.1 ? 0 : 1) }
        return differing <= max(1, first.counts.count / 1000)
    }

    public static let workUnit = "pixels"

    /// The band's pixels, as the unit asked for them.
    public func work(input: Data, output: Data) -> Double {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            (try? validate(unit)) != nil
        else { return 0 }
        return Double(unit.rows * unit.view.width)
    }

    /// Recomputes 1% of the band's pixels drawn from `seed` (at least 256, or all of a smaller band) and allows as
    /// many differences as `equivalent` does, in proportion. A band with a tenth of its pixels wrong fails with
    /// certainty but for a chance of 0.9^256 ≈ 2·10⁻¹²; a few wrong pixels may pass.
    public func verify(input: Data, output: Data, seed: UInt64) -> Bool? {
        guard let unit = try? KernelCoding.decode(Unit.self, from: input, kernel: Self.name, what: "unit input"),
            (try? validate(unit)) != nil, let (band, counts) = try? decodeBand(output),
            band.firstRow == unit.firstRow, band.rows == unit.rows, band.width == unit.view.width,
            counts.count == unit.rows * unit.view.width
        else { return false }
        let samples = min(counts.count, max(256, counts.count / 100))
        var sampler = CheckSampler(seed: seed)
        var differing = 0
        for _ in 0..<samples {
            let pixel = sampler.next(below: counts.count)
            let (x, y) = unit.view.point(column: pixel % band.width, row: unit.firstRow + pixel / band.width)
            if Self.escapeCount(x: x, y: y, limit: unit.view.maxIterations) != Int(counts[pixel]) { differing += 1 }
        }
        return differing <= max(1, samples / 1000)
    }

    public func assemble(_ outputs: [Data], parameters: KernelParameters, into directory: URL) throws -> KernelSummary {
        let view = try view(from: parameters)
        let file = directory.appendingPathComponent("mandelbrot.png")
        let writer = try PNGFileWriter(url: file, width: view.width, height: view.height, colorType: .rgb)
        let palette = Palette(maxIterations: view.maxIterations)
        var inside = 0
        var nextRow = 0
        for output in outputs {
            let (band, counts) = try decodeBand(output)
            guard band.firstRow == nextRow, band.width == view.width, counts.count == band.rows * band.width else {
                throw KernelDataError(
                    kernel: Self.name, what: "unit output",
                    reason: "band at row \(band.firstRow) does not continue the image at row \(nextRow)")
            }
            var pixels = Data(count: counts.count * 3)
            inside += pixels.withUnsafeMutableBytes { palette.paint(counts, into: $0) }
            try writer.append(rows: pixels)
            nextRow += band.rows
        }
        try writer.finish()
        let fraction = Double(inside) / Double(view.width * view.height)
        return KernelSummary(
            values: [
                "width": .int(view.width), "height": .int(view.height), "file": .string(file.path),
                "insideFraction": .double(fraction), "maxIterations": .int(view.maxIterations),
            ],
            files: [file],
            headline: "\(view.width)×\(view.height) image of the Mandelbrot set in \(file.path) "
                + String(format: "(%.1f%% of pixels inside)", fraction * 100))
    }

    func decodeBand(_ output: Data) throws -> (band: Band, counts: [UInt16]) {
        let band = try KernelCoding.decode(Band.self, from: output, kernel: Self.name, what: "unit output")
        // Outputs come from workers: the range checks come first, so that the product cannot overflow.
        guard Self.rowsPerUnitRange.contains(band.rows), Self.sideRange.contains(band.width),
            band.rows * band.width * 2 <= Self.maximumBandBytes
        else {
            throw KernelDataError(kernel: Self.name, what: "unit output", reason: "the band's size is out of range")
        }
        let raw: Data
        do {
            raw = try Inflate.decompress(band.counts, limit: band.rows * band.width * 2)
        } catch {
            throw KernelDataError(kernel: Self.name, what: "unit output", reason: "its counts do not inflate: \(error)")
        }
        return (band, Self.decodeCounts(raw))
    }

    /// Iterations of z → z² + c before |z| > 2, or `limit` when the point stays (is inside the set).
    @inline(__always)
    static func escapeCount(x: Double, y: Double, limit: Int) -> Int {
        // Points in the main cardioid and the period-2 bulb are inside: skip their iterations entirely.
        let shifted = x - 0.25
        let q = shifted * shifted + y * y
        if q * (q + shifted) <= 0.25 * y * y { return limit }
        if (x + 1) * (x + 1) + y * y <= 0.0625 { return limit }
        var zx = 0.0
        var zy = 0.0
        var zx2 = 0.0
        var zy2 = 0.0
        // Periodicity: an orbit that returns exactly to a saved point is cyclic, hence inside.
        var savedX = 0.0
        var savedY = 0.0
        var period = 8
        var sinceSave = 0
        var iteration = 0
        while iteration < limit {
            zy = 2 * zx * zy + y
            zx = zx2 - zy2 + x
            zx2 = zx * zx
            zy2 = zy * zy
            if zx2 + zy2 > 4 { return iteration }
            iteration += 1
            if zx == savedX, zy == savedY { return limit }
            sinceSave += 1
            if sinceSave == period {
                savedX = zx
                savedY = zy
                sinceSave = 0
                period *= 2
            }
        }
        return limit
    }

    static func encodeCounts(_ counts: [UInt16]) -> Data {
        var data = Data(count: counts.count * 2)
        data.withUnsafeMutableBytes { raw in
            for (index, count) in counts.enumerated() { raw.storeBytes(of: count.littleEndian, toByteOffset: 2 * index, as: UInt16.self) }
        }
        return data
    }

    static func decodeCounts(_ data: Data) -> [UInt16] {
        data.withUnsafeBytes { raw in
            (0..<raw.count / 2).map { UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        }
    }
}

/// Escape counts to colours: inside is black; outside runs along a gradient by the logarithm of the count, so
/// the thin filaments near the set stay visible at any iteration limit.
struct Palette {
    let maxIterations: Int
    private let scale: Double

    /// Stops of the gradient, from fast escapes (deep blue) through white and amber to dark red near the set.
    private static let stops: [(position: Double, colour: (Double, Double, Double))] = [
        (0.00, (2, 6, 40)), (0.30, (20, 90, 190)), (0.55, (235, 245, 250)), (0.75, (250, 175, 40)),
        (0.90, (160, 40, 20)), (1.00, (40, 5, 5)),
    ]

    init(maxIterations: Int) {
        self.maxIterations = maxIterations
        self.scale = 1 / log(Double(maxIterations) + 1)
    }

    /// Writes the colours of `counts` as RGB into the start of `rgb` (three bytes a count); returns how many counts
    /// are inside the set.
    func paint(_ counts: [UInt16], into rgb: UnsafeMutableRawBufferPointer) -> Int {
        var inside = 0
        for (index, count) in counts.enumerated() {
            let colour = colour(Int(count))
            rgb[3 * index] = colour.0
            rgb[3 * index + 1] = colour.1
            rgb[3 * index + 2] = colour.2
            if Int(count) >= maxIterations { inside += 1 }
        }
        return inside
    }

    func colour(_ count: Int) -> (UInt8, UInt8, UInt8) {
        guard count < maxIterations else { return (0, 0, 0) }
        let t = log(Double(count) + 1) * scale
        var lower = Self.stops[0]
        for stop in Self.stops.dropFirst() {
            if t <= stop.position {
                let f = (t - lower.position) / (stop.position - lower.position)
                func mix(_ a: Double, _ b: Double) -> UInt8 { UInt8(max(0, min(255, (a + (b - a) * f).rounded()))) }
                return (mix(lower.colour.0, stop.colour.0), mix(lower.colour.1, stop.colour.1), mix(lower.colour.2, stop.colour.2))
            }
            lower = stop
        }
        let last = Self.stops[Self.stops.count - 1].colour
        return (UInt8(last.0), UInt8(last.1), UInt8(last.2))
    }
}
