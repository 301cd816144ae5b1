/// SHA-512, computed by libcrypto: uses that need a 512-bit digest.
///
/// One-shot: `SHA512.hash(data)`. Streaming: `var hasher = SHA512(); hasher.update(part); hasher.finalize()`.
/// A hasher is a value; copies share libcrypto's state until one is updated (copy-on-write).
public struct SHA512: HashFunction {
    /// The SHA-512 digest.
    public typealias Digest = SHA512Digest

    private var state = DigestState(.sha512)

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Feeds `bytes` to the hasher.
    public mutating func update(bytes: UnsafeRawBufferPointer) {
        state.update(bytes)
    }

    /// The digest of all bytes fed so far; the hasher stays usable.
    public func finalize() -> SHA512Digest {
        SHA512Digest { state.finalize(into: $0) }
    }

    /// The digest of `bytes` in one call.
    public static func hash(bytes: UnsafeRawBufferPointer) -> SHA512Digest {
        SHA512Digest { DigestAlgorithm.sha512.hash(bytes, into: $0) }
    }
}
