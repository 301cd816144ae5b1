import ColonyKernel
import Foundation

extension MandelbrotKernel: PreviewableKernel {
    /// The image with each given band coloured as `assemble` colours it, in its rows; the other rows grey.
    public func preview(_ outputs: [Int: Data], parameters: KernelParameters) throws -> KernelPreview {
        let view = try view(from: parameters)
        var preview = KernelPreview.pending(width: view.width, height: view.height)
        let palette = Palette(maxIterations: view.maxIterations)
        for unit in outputs.keys.sorted() {
            let (band, counts) = try decodeBand(outputs[unit]!)
            // Outputs come from workers: a band must lie inside the image, whatever its unit said.
            guard band.width == view.width, band.firstRow >= 0, band.firstRow <= view.height - band.rows,
                counts.count == band.rows * band.width
            else {
                throw KernelDataError(
                    kernel: Self.name, what: "unit output",
                    reason: "unit \(unit)'s band of \(band.rows) rows at row \(band.firstRow) does not fit the image")
            }
            let start = band.firstRow * view.width * 3
            preview.rgb.withUnsafeMutableBytes { raw in
                _ = palette.paint(counts, into: UnsafeMutableRawBufferPointer(rebasing: raw[start...]))
            }
        }
        return preview
    }
}
