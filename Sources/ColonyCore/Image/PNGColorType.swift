/// The pixel layout of a PNG image, 8 bits per channel: `.rgb`, `.rgba`, `.gray` or `.grayAlpha`.
public struct PNGColorType: Hashable, Sendable, CustomStringConvertible {
    /// The color type number in the PNG header (IHDR).
    let code: UInt8
    /// Bytes per pixel: one per channel.
    public let bytesPerPixel: Int
    /// The name used in messages: "RGB".
    public let name: String

    /// Red, green, blue: 3 bytes per pixel.
    public static let rgb = PNGColorType(code: 2, bytesPerPixel: 3, name: "RGB")
    /// Red, green, blue, alpha (not premultiplied): 4 bytes per pixel.
    public static let rgba = PNGColorType(code: 6, bytesPerPixel: 4, name: "RGBA")
    /// Gray levels: 1 byte per pixel.
    public static let gray = PNGColorType(code: 0, bytesPerPixel: 1, name: "gray")
    /// Gray levels with alpha: 2 bytes per pixel.
    public static let grayAlpha = PNGColorType(code: 4, bytesPerPixel: 2, name: "gray+alpha")

    public var description: String { name }
}
