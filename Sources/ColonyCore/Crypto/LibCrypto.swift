internal import CCrypto

/// Helpers shared by the libcrypto wrappers.
enum LibCrypto {
    /// libcrypto initialized without its exit-time clean-up; touched before every first call into libcrypto (key,
    /// digest, random bytes). By default libcrypto frees its tables in an `atexit` handler, while other threads may
    /// still sign or hash: a `colony bench adaptive` run crashed in libcrypto as it exited (signal 11, a freed name
    /// table read by a peer's thread, 1 run in 3 of `--units 4000 --scenarios churn`). The memory goes with the
    /// process anyway.
    static let initialized: Void = {
        guard OPENSSL_init_crypto(UInt64(OPENSSL_INIT_NO_ATEXIT), nil) == 1 else {
            fatalError("libcrypto failed to initialize: \(drainErrors())")
        }
    }()

    /// The reasons libcrypto queued for the last failure on this thread, emptying the queue.
    ///
    /// The queue is per thread and keeps piling up until read, so every failure path drains it, even when the
    /// reason is not reported.
    static func drainErrors() -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return reasons.isEmpty ? "no reason given" : reasons.joined(separator: "; ")
    }

    /// Compares two byte buffers in time that does not depend on where they differ.
    static func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let left = a.baseAddress, let right = b.baseAddress else { return true }
        return CRYPTO_memcmp(left, right, a.count) == 0
    }
}
