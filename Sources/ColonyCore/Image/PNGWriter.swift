import Foundation

/// Encodes 8-bit images as PNG in memory. For images too large to hold twice, `PNGFileWriter` writes row by row.
public enum PNGWriter {
    /// The largest width or height accepted. PNG allows 2^31 - 1, but a side past 32,768 pixels in Colony is a
    /// mistake or an attack on the writer's memory, not a picture.
    public static let maximumSide = 32_768
    /// The largest pixel count accepted: 2^28 pixels, 1 GiB of RGBA.
    public static let maximumPixels = 1 << 28

    /// The PNG file for an image `width` × `height` whose `pixels` are rows top to bottom, each pixel laid out as
    /// `colorType` says (`width × height × colorType.bytesPerPixel` bytes in all).
    public static func encode(
        width: Int, height: Int, colorType: PNGColorType, pixels: some DataProtocol,
        filter: PNGFilter = .adaptive, compressionLevel: Int = 6
    ) throws(PNGError) -> Data {
        let encoder = try PNGEncoder(
            width: width, height: height, colorType: colorType, filter: filter, compressionLevel: compressionLevel)
        let expected = encoder.rowBytes * height
        guard pixels.count == expected else {
            throw PNGError(
                .invalidPixelCount,
                "pixels has \(pixels.count) bytes; a \(width)×\(height) \(colorType) image needs \(expected) "
                    + "(width × height × \(colorType.bytesPerPixel))")
        }
        var output = encoder.header()
        let result = pixels.withContiguousBytes { raw in
            Result { () throws(PNGError) in
                for row in 0..<height {
                    let start = row * encoder.rowBytes
                    let row = UnsafeRawBufferPointer(rebasing: raw[start..<(start + encoder.rowBytes)])
                    output.append(try encoder.append(row: row))
                }
            }
        }
        try result.get()
        output.append(try encoder.finish())
        return output
    }

    /// Throws unless both sides are 1 through `maximumSide` and the pixel count is at most `maximumPixels`.
    public static func validate(width: Int, height: Int) throws(PNGError) {
        for (name, value) in [("width", width), ("height", height)] where !(1...maximumSide).contains(value) {
            throw PNGError(.invalidDimensions, "PNG \(name) must be 1 through \(maximumSide) pixels, got \(value)")
        }
        guard width * height <= maximumPixels else {
            throw PNGError(
                .invalidDimensions,
                "a \(width)×\(height) PNG has \(width * height) pixels; at most \(maximumPixels) are allowed")
        }
    }
}
