import Foundation

/// A kernel whose result can be shown as a picture before every unit is done: a publisher's job page shows it
/// filling in as units are validated.
public protocol PreviewableKernel: ComputeKernel {
    /// The picture so far: `outputs` holds the validated units' outputs by unit index (any subset, in any order);
    /// the parts of units not given are left grey. Throws `KernelDataError` for an output that does not decode.
    func preview(_ outputs: [Int: Data], parameters: KernelParameters) throws -> KernelPreview
}

/// An 8-bit RGB picture: rows top to bottom, three bytes a pixel.
public struct KernelPreview: Sendable, Equatable {
    /// The grey of parts not computed yet.
    public static let pending: (UInt8, UInt8, UInt8) = (128, 128, 128)

    /// Pixels across and down.
    public let width: Int, height: Int
    /// `width × height × 3` bytes.
    public var rgb: Data

    /// A `width` × `height` picture of `rgb`, which must hold three bytes for each pixel.
    public init(width: Int, height: Int, rgb: Data) {
        precondition(
            width > 0 && height > 0 && rgb.count == width * height * 3,
            "rgb holds \(rgb.count) bytes, not \(width)×\(height)×3")
        (self.width, self.height, self.rgb) = (width, height, rgb)
    }

    /// A `width` × `height` picture all of the pending grey.
    public static func pending(width: Int, height: Int) -> KernelPreview {
        var rgb = Data(count: width * height * 3)
        rgb.withUnsafeMutableBytes { raw in
            for index in stride(from: 0, to: raw.count, by: 3) {
                raw[index] = pending.0
                raw[index + 1] = pending.1
                raw[index + 2] = pending.2
            }
        }
        return KernelPreview(width: width, height: height, rgb: rgb)
    }
}

extension KernelPreview {
    /// The picture shrunk by the smallest whole factor that brings both sides to at most `side` pixels, each pixel
    /// the top-left one of its square; itself when it fits already. A page shows a 4096-pixel picture no sharper
    /// than a 1024-pixel one, and the smaller encodes sixteen times faster.
    public func shrunk(toFit side: Int) -> KernelPreview {
        precondition(side > 0, "side must be positive")
        let factor = (max(width, height) + side - 1) / side
        guard factor > 1 else { return self }
        let (newWidth, newHeight) = ((width + factor - 1) / factor, (height + factor - 1) / factor)
        var shrunk = Data(count: newWidth * newHeight * 3)
        shrunk.withUnsafeMutableBytes { (target: UnsafeMutableRawBufferPointer) in
            rgb.withUnsafeBytes { (source: UnsafeRawBufferPointer) in
                for row in 0..<newHeight {
                    for column in 0..<newWidth {
                        let from = ((row * factor) * width + column * factor) * 3
                        let to = (row * newWidth + column) * 3
                        for channel in 0..<3 { target[to + channel] = source[from + channel] }
                    }
                }
            }
        }
        return KernelPreview(width: newWidth, height: newHeight, rgb: shrunk)
    }
}
