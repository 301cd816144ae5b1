import ColonyKernel
import Foundation
import MandelbrotKernel
import Testing

/// The picture a job page shows while a mandelbrot job runs: validated bands in their rows, grey elsewhere.
@Suite struct MandelbrotPreviewTests {
    static let parameters = KernelParameters(["width": 40, "height": 24, "rowsPerUnit": 5, "maxIterations": 100])

    /// Every unit's output, in unit order: five bands, of 5, 5, 5, 5 and 4 rows.
    static func outputs(_ parameters: KernelParameters = parameters) throws -> [Data] {
        let kernel = MandelbrotKernel()
        return try kernel.units(for: parameters).enumerated().map {
            try kernel.run($1, context: KernelContext(unit: $0))
        }
    }

    /// The pixels of rows `rows` of a 40-pixel-wide picture.
    static func rows(_ preview: KernelPreview, _ rows: Range<Int>) -> Data {
        preview.rgb.subdata(in: rows.lowerBound * preview.width * 3..<rows.upperBound * preview.width * 3)
    }

    static func isPending(_ pixels: Data) -> Bool {
        let grey = KernelPreview.pending
        return stride(from: 0, to: pixels.count, by: 3).allSatisfy { offset in
            let index = pixels.startIndex + offset
            return (pixels[index], pixels[index + 1], pixels[index + 2]) == grey
        }
    }

    @Test func givenBandsAreColouredInTheirRowsAndTheRestStaysGrey() throws {
        let outputs = try Self.outputs()
        #expect(outputs.count == 5)
        let kernel = MandelbrotKernel()
        let full = try kernel.preview(
            Dictionary(uniqueKeysWithValues: outputs.enumerated().map { ($0, $1) }), parameters: Self.parameters)
        #expect(full.width == 40 && full.height == 24 && full.rgb.count == 40 * 24 * 3)
        // No colour of the palette is the pending grey: a complete picture has no grey row.
        for row in 0..<24 { #expect(!Self.isPending(Self.rows(full, row..<row + 1)), "row \(row)") }

        let partial = try kernel.preview([1: outputs[1], 4: outputs[4]], parameters: Self.parameters)
        for band in [5..<10, 20..<24] { #expect(Self.rows(partial, band) == Self.rows(full, band)) }
        for band in [0..<5, 10..<15, 15..<20] { #expect(Self.isPending(Self.rows(partial, band))) }

        let none = try kernel.preview([:], parameters: Self.parameters)
        #expect(Self.isPending(none.rgb))
    }

    @Test func aBandThatDoesNotFitThePictureIsRefused() throws {
        // A band of a wider view (a worker's output for another job) cannot be drawn into this one.
        let wider = try Self.outputs(
            KernelParameters(["width": 48, "height": 24, "rowsPerUnit": 5, "maxIterations": 100]))
        #expect(throws: KernelDataError.self) {
            try MandelbrotKernel().preview([0: wider[0]], parameters: Self.parameters)
        }
        // Nor can a band of a taller view whose rows lie below this picture's last row.
        let taller = try Self.outputs(
            KernelParameters(["width": 40, "height": 40, "rowsPerUnit": 5, "maxIterations": 100]))
        #expect(throws: KernelDataError.self) {
            try MandelbrotKernel().preview([7: taller[7]], parameters: Self.parameters)
        }
        #expect(throws: KernelDataError.self) {
            try MandelbrotKernel().preview([0: Data("not a band".utf8)], parameters: Self.parameters)
        }
    }
}
