/// The container around deflate data (RFC 1950, 1952, 1951). zlib defines exactly these three.
public enum CompressionFormat: Sendable, Hashable {
    /// zlib (RFC 1950): a 2-byte header, deflate data, an Adler-32 trailer. PNG and Colony's wire use it.
    case zlib
    /// gzip (RFC 1952): a header, deflate data, a CRC-32 and length trailer; one member.
    case gzip
    /// Bare deflate data (RFC 1951), no header and no checksum.
    case raw

    /// zlib's `windowBits` for this container with the largest (32 KiB) window.
    var windowBits: Int32 {
        switch self {
        case .zlib: 15
        case .gzip: 15 + 16
        case .raw: -15
        }
    }
}
