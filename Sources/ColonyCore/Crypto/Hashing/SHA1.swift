/// SHA-1, computed by libcrypto: BitTorrent DHT node IDs and keys (BEP 5) and Colony topic keys.
///
/// One-shot: `SHA1.hash(data)`. Streaming: `var hasher = SHA1(); hasher.update(part); hasher.finalize()`.
/// A hasher is a value; copies share libcrypto's state until one is updated (copy-on-write).
public struct SHA1: HashFunction {
    /// The SHA-1 digest.
    public typealias Digest = SHA1Digest

    private var state = DigestState(.sha1)

    /// A hasher that has seen no bytes yet.
    public init() {}

    /// Feeds `bytes` to the hasher.
    public mutating func update(bytes: UnsafeRawBufferPointer) {
        state.update(bytes)
    }

    /// The digest of all bytes fed so far; the hasher stays usable.
    public func finalize() -> SHA1Digest {
        SHA1Digest { state.finalize(into: $0) }
    }

    /// The digest of `bytes` in one call.
    public static func hash(bytes: UnsafeRawBufferPointer) -> SHA1Digest {
        SHA1Digest { DigestAlgorithm.sha1.hash(bytes, into: $0) }
    }
}
