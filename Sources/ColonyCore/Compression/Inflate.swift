import Foundation

/// One-shot zlib decompression with an output limit; `Inflater` is the streaming form.
public enum Inflate {
    /// The decompressed form of `data`, which must be exactly one complete stream in `format`. Throws when the
    /// output would pass `limit` bytes (without producing more than that), or when `data` is damaged, cut short,
    /// or followed by other bytes.
    public static func decompress(
        _ data: some DataProtocol, limit: Int, format: CompressionFormat = .zlib
    ) throws(DecompressionError) -> Data {
        let inflater = try Inflater(format: format, limit: limit)
        let output = try inflater.update(data)
        try inflater.finish()
        return output
    }
}
