/// SHA-256, computed by libcrypto: blob addresses, job IDs and commit seals.
///
/// One-shot: `SHA256.hash(data)`. Streaming: `var hasher = SHA256(); hasher.update(part); hasher.finalize()`.
/// A hasher is a value; copies share libcrypto's state until one is updated (copy-on-write).
public struct SHA256: HashFunction {
    /// The SHA-256 digest.
    public typealias Digest = SHA256Digest

    private var state = DigestState(.sha256)

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Feeds `bytes` to the hasher.
    public mutating func update(bytes: UnsafeRawBufferPointer) {
        state.update(bytes)
    }

    /// The digest of all bytes fed so far; the hasher stays usable.
    public func finalize() -> SHA256Digest {
        SHA256Digest { state.finalize(into: $0) }
    }

    /// The digest of `bytes` in one call.
    public static func hash(bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        SHA256Digest { DigestAlgorithm.sha256.hash(bytes, into: $0) }
    }
}
