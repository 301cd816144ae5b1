internal import CCrypto
import Foundation

/// An Ed25519 key held by libcrypto (`EVP_PKEY`), freed with its last reference. Holding the secret only inside
/// libcrypto means no Swift buffer keeps a copy of it, and libcrypto clears it when the key is freed.
///
/// `@unchecked Sendable`: the key is never modified after creation, and libcrypto allows one `EVP_PKEY` to sign
/// and verify on several threads at once.
final class EVPKey: @unchecked Sendable {
    static let ed25519Name = "ED25519"
    static let keyLength = 32
    static let signatureLength = 64

    private let key: OpaquePointer

    private init(_ key: OpaquePointer) {
        self.key = key
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// The private key whose 32-byte seed is `seed`; libcrypto derives the public half.
    static func ed25519Private(seed: UnsafeRawBufferPointer) throws(CryptoError) -> EVPKey {
        LibCrypto.initialized
        guard seed.count == keyLength else {
            throw CryptoError(
                .invalidLength, "an Ed25519 private key is a \(keyLength)-byte seed, got \(seed.count) bytes")
        }
        guard
            let key = EVP_PKEY_new_raw_private_key_ex(
                nil, ed25519Name, nil, seed.baseAddress!.assumingMemoryBound(to: UInt8.self), seed.count)
        else {
            throw CryptoError(.invalidKey, "libcrypto refused the Ed25519 seed: \(LibCrypto.drainErrors())")
        }
        return EVPKey(key)
    }

    /// The public key whose 32-byte encoding is `raw`.
    static func ed25519Public(raw: UnsafeRawBufferPointer) throws(CryptoError) -> EVPKey {
        LibCrypto.initialized
        guard raw.count == keyLength else {
            throw CryptoError(.invalidLength, "an Ed25519 public key is \(keyLength) bytes, got \(raw.count)")
        }
        guard
            let key = EVP_PKEY_new_raw_public_key_ex(
                nil, ed25519Name, nil, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), raw.count)
        else {
            throw CryptoError(.invalidKey, "libcrypto refused the Ed25519 public key: \(LibCrypto.drainErrors())")
        }
        return EVPKey(key)
    }

    /// The 32-byte seed of a private key.
    func rawPrivateKey() -> Data {
        var data = Data(count: Self.keyLength)
        var length = Self.keyLength
        let status = data.withUnsafeMutableBytes {
            EVP_PKEY_get_raw_private_key(key, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
        }
        // The key was built from a seed, so reading it back cannot fail short of memory corruption.
        guard status == 1, length == Self.keyLength else {
            fatalError("libcrypto EVP_PKEY_get_raw_private_key failed: \(LibCrypto.drainErrors())")
        }
        return data
    }

    /// The 32-byte public key.
    func rawPublicKey() -> Data {
        var data = Data(count: Self.keyLength)
        var length = Self.keyLength
        let status = data.withUnsafeMutableBytes {
            EVP_PKEY_get_raw_public_key(key, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length)
        }
        guard status == 1, length == Self.keyLength else {
            fatalError("libcrypto EVP_PKEY_get_raw_public_key failed: \(LibCrypto.drainErrors())")
        }
        return data
    }

    /// The 64-byte Ed25519 signature of `message` (pure Ed25519, RFC 8032: no prehash, no context).
    func sign(_ message: UnsafeRawBufferPointer) -> Data {
        let context = Self.newDigestContext()
        defer { EVP_MD_CTX_free(context) }
        // Ed25519 hashes internally, so the digest argument is NULL.
        guard EVP_DigestSignInit_ex(context, nil, nil, nil, nil, key, nil) == 1 else {
            fatalError("libcrypto EVP_DigestSignInit_ex failed for Ed25519: \(LibCrypto.drainErrors())")
        }
        var signature = Data(count: Self.signatureLength)
        var length = Self.signatureLength
        let status = signature.withUnsafeMutableBytes { output in
            Self.withNonNullBase(message) { base, count in
                EVP_DigestSign(
                    context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, base, count)
            }
        }
        guard status == 1, length == Self.signatureLength else {
            fatalError("libcrypto EVP_DigestSign failed for Ed25519: \(LibCrypto.drainErrors())")
        }
        return signature
    }

    /// Whether `signature` is this key's valid Ed25519 signature of `message`.
    func verify(_ signature: UnsafeRawBufferPointer, message: UnsafeRawBufferPointer) -> Bool {
        guard signature.count == Self.signatureLength else { return false }
        let context = Self.newDigestContext()
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit_ex(context, nil, nil, nil, nil, key, nil) == 1 else {
            _ = LibCrypto.drainErrors()
            return false
        }
        let status = Self.withNonNullBase(message) { base, count in
            EVP_DigestVerify(
                context, signature.baseAddress!.assumingMemoryBound(to: UInt8.self), signature.count, base, count)
        }
        if status != 1 {
            // A bad signature queues a reason; drop it so the thread's queue does not carry it to the next caller.
            _ = LibCrypto.drainErrors()
        }
        return status == 1
    }

    /// Calls `body` with a non-NULL pointer to `bytes`: libcrypto's one-shot calls may reject NULL even with a
    /// zero length, and an empty message (RFC 8032 TEST 1) is valid.
    private static func withNonNullBase<Result>(
        _ bytes: UnsafeRawBufferPointer, _ body: (UnsafePointer<UInt8>, Int) -> Result
    ) -> Result {
        if let base = bytes.baseAddress, !bytes.isEmpty {
            return body(base.assumingMemoryBound(to: UInt8.self), bytes.count)
        }
        var placeholder: UInt8 = 0
        return body(&placeholder, 0)
    }

    private static func newDigestContext() -> OpaquePointer {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto EVP_MD_CTX_new failed: out of memory")
        }
        return context
    }
}
