import Foundation

/// An Ed25519 private key (RFC 8032), kept inside libcrypto: signs messages.
///
/// Its `rawRepresentation` is the 32-byte seed of RFC 8032 (the "secret key" of its test vectors).
public struct Ed25519PrivateKey: Sendable, Equatable, CustomStringConvertible {
    /// The matching public key.
    public let publicKey: Ed25519PublicKey

    private let key: EVPKey

    /// A new random key, from a seed drawn from libcrypto's random generator.
    public init() {
        var seed = SecureRandom.bytes(count: EVPKey.keyLength)
        // Best effort: do not leave the seed behind in freed memory.
        defer { seed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        // A fresh 32-byte seed is always a valid key; only memory exhaustion could make this fail.
        do {
            try self.init(rawRepresentation: seed)
        } catch {
            fatalError("cannot create an Ed25519 key: \(error)")
        }
    }

    /// The key whose 32-byte seed is `rawRepresentation`; throws on any other length.
    public init(rawRepresentation: some DataProtocol) throws(CryptoError) {
        guard rawRepresentation.count == EVPKey.keyLength else {
            throw CryptoError(
                .invalidLength,
                "an Ed25519 private key is a \(EVPKey.keyLength)-byte seed, got \(rawRepresentation.count) bytes")
        }
        var seed = Array(rawRepresentation)
        // Best effort: do not leave the seed behind in freed memory.
        defer { seed.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) } }
        let key = try seed.withUnsafeBytes { raw in
            Result { () throws(CryptoError) in try EVPKey.ed25519Private(seed: raw) }
        }
        .get()
        self.key = key
        publicKey = Ed25519PublicKey(rawRepresentation: key.rawPublicKey(), key: key)
    }

    /// The 32-byte seed. Treat it as a secret: it is the whole key.
    public var rawRepresentation: Data { key.rawPrivateKey() }

    /// The 64-byte signature of `data`.
    public func signature(for data: some DataProtocol) -> Data {
        data.withContiguousBytes { key.sign($0) }
    }

    /// Shows only the public half, so that logging a key never leaks it.
    public var description: String { "Ed25519PrivateKey(public: \(publicKey.hex))" }

    /// Keys are equal when their seeds are; compared in constant time.
    public static func == (lhs: Ed25519PrivateKey, rhs: Ed25519PrivateKey) -> Bool {
        let left = lhs.rawRepresentation
        let right = rhs.rawRepresentation
        return left.withUnsafeBytes { l in right.withUnsafeBytes { r in LibCrypto.constantTimeEqual(l, r) } }
    }
}
