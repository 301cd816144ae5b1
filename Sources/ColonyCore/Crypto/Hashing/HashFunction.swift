import Foundation

/// A hash function computed by libcrypto, one-shot (`SHA256.hash(data)`) or streaming
/// (`var hasher = SHA256(); hasher.update(data); let digest = hasher.finalize()`).
///
/// Hashers are values: a copy continues independently of the original. The libcrypto state is shared between
/// copies until one of them is updated, then copied (copy-on-write), so copying a hasher is cheap.
public protocol HashFunction: Sendable {
    /// The digest this function produces.
    associatedtype Digest: HashDigest

    /// A hasher that has seen no bytes yet.
    init()

    /// Feeds `bytes` to the hasher.
    mutating func update(bytes: UnsafeRawBufferPointer)

    /// The digest of all bytes fed so far. The hasher stays usable: more updates continue the same message.
    func finalize() -> Digest

    /// The digest of `bytes` in one call.
    static func hash(bytes: UnsafeRawBufferPointer) -> Digest
}

extension HashFunction {
    /// Feeds `data` to the hasher.
    public mutating func update(_ data: some DataProtocol) {
        for region in data.regions {
            region.withUnsafeBytes { update(bytes: $0) }
        }
    }

    /// The digest of `data` in one call.
    public static func hash(_ data: some DataProtocol) -> Digest {
        let regions = data.regions
        if regions.count == 1, let region = regions.first {
            return region.withUnsafeBytes { hash(bytes: $0) }
        }
        var hasher = Self()
        hasher.update(data)
        return hasher.finalize()
    }
}
