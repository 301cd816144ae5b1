import Foundation

/// One-shot zlib compression; `Deflater` is the streaming form.
public enum Deflate {
    /// `data` compressed at `level` (-1 for zlib's default, or 0 through 9) in `format`.
    public static func compress(
        _ data: some DataProtocol, level: Int = -1, format: CompressionFormat = .zlib
    ) throws(CompressionError) -> Data {
        let deflater = try Deflater(format: format, level: level)
        var output = try deflater.update(data)
        output.append(try deflater.finish())
        return output
    }
}
