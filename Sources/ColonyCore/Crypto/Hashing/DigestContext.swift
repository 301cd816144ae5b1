internal import CCrypto

/// One libcrypto message digest (SHA-1, SHA-256, SHA-512), fetched once per process.
///
/// `@unchecked Sendable`: a fetched `EVP_MD` is immutable and libcrypto allows it to be shared by threads.
struct DigestAlgorithm: @unchecked Sendable {
    /// The fetched `EVP_MD`.
    let method: OpaquePointer
    /// The digest size in bytes.
    let byteCount: Int

    static let sha1 = DigestAlgorithm(name: "SHA1", byteCount: 20)
    static let sha256 = DigestAlgorithm(name: "SHA256", byteCount: 32)
    static let sha512 = DigestAlgorithm(name: "SHA512", byteCount: 64)

    /// Fetching explicitly, once, avoids the implicit fetch libcrypto 3 would otherwise do on every one-shot call.
    private init(name: String, byteCount: Int) {
        LibCrypto.initialized
        guard let method = EVP_MD_fetch(nil, name, nil) else {
            fatalError("libcrypto has no \(name) digest: \(LibCrypto.drainErrors())")
        }
        precondition(EVP_MD_get_size(method) == Int32(byteCount), "libcrypto's \(name) has an unexpected size")
        self.method = method
        self.byteCount = byteCount
    }

    /// Writes the digest of `bytes` into `output`, which holds exactly `byteCount` bytes.
    func hash(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        var length: UInt32 = 0
        let status = EVP_Digest(
            bytes.baseAddress, bytes.count, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length,
            method, nil)
        // Hashing fails only when libcrypto cannot allocate; there is no input that makes it fail.
        guard status == 1, Int(length) == byteCount else {
            fatalError("libcrypto EVP_Digest failed: \(LibCrypto.drainErrors())")
        }
    }
}

/// A libcrypto streaming digest state (`EVP_MD_CTX`), owned by exactly one object so that it is freed once.
///
/// `@unchecked Sendable`: the context is mutated only through `DigestState`, which copies it first unless the
/// reference is unique, so no two threads ever mutate one context; reading it for a copy is safe concurrently.
final class DigestContext: @unchecked Sendable {
    let algorithm: DigestAlgorithm
    private let context: OpaquePointer

    init(_ algorithm: DigestAlgorithm) {
        self.algorithm = algorithm
        context = Self.newContext()
        guard EVP_DigestInit_ex(context, algorithm.method, nil) == 1 else {
            fatalError("libcrypto EVP_DigestInit_ex failed: \(LibCrypto.drainErrors())")
        }
    }

    init(copying other: DigestContext) {
        algorithm = other.algorithm
        context = Self.newContext()
        guard EVP_MD_CTX_copy_ex(context, other.context) == 1 else {
            fatalError("libcrypto EVP_MD_CTX_copy_ex failed: \(LibCrypto.drainErrors())")
        }
    }

    deinit {
        EVP_MD_CTX_free(context)
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("libcrypto EVP_DigestUpdate failed: \(LibCrypto.drainErrors())")
        }
    }

    /// Writes the digest of everything so far into `output`, leaving this context able to continue: the final
    /// step runs on a copy.
    func finalize(into output: UnsafeMutableRawBufferPointer) {
        let copy = DigestContext(copying: self)
        var length: UInt32 = 0
        guard
            EVP_DigestFinal_ex(copy.context, output.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1,
            Int(length) == algorithm.byteCount
        else {
            fatalError("libcrypto EVP_DigestFinal_ex failed: \(LibCrypto.drainErrors())")
        }
    }

    private static func newContext() -> OpaquePointer {
        guard let context = EVP_MD_CTX_new() else {
            fatalError("libcrypto EVP_MD_CTX_new failed: out of memory")
        }
        return context
    }
}

/// The copy-on-write core of the hashers: value semantics over a shared `DigestContext`.
struct DigestState: Sendable {
    private var context: DigestContext

    init(_ algorithm: DigestAlgorithm) {
        context = DigestContext(algorithm)
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        if !isKnownUniquelyReferenced(&context) {
            context = DigestContext(copying: context)
        }
        context.update(bytes)
    }

    func finalize(into output: UnsafeMutableRawBufferPointer) {
        context.finalize(into: output)
    }
}
