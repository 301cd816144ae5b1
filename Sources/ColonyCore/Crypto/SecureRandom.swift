internal import CCrypto
import Foundation

/// Cryptographically strong random bytes from libcrypto's generator (`RAND_bytes`).
public enum SecureRandom {
    /// Fills `buffer` with random bytes.
    ///
    /// A generator that cannot produce bytes leaves nothing safe to do (keys and tokens would be guessable), so
    /// that failure stops the process, as the standard library's `SystemRandomNumberGenerator` does.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        LibCrypto.initialized
        guard var address = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        var remaining = buffer.count
        while remaining > 0 {
            // RAND_bytes takes an Int32 count.
            let step = min(remaining, Int(Int32.max))
            guard RAND_bytes(address, Int32(step)) == 1 else {
                fatalError("libcrypto's random generator failed: \(LibCrypto.drainErrors())")
            }
            address += step
            remaining -= step
        }
    }

    /// `count` random bytes.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0, "SecureRandom.bytes: count must not be negative, got \(count)")
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// `count` random bytes as `Data`.
    public static func data(count: Int) -> Data {
        precondition(count >= 0, "SecureRandom.data: count must not be negative, got \(count)")
        var data = Data(count: count)
        data.withUnsafeMutableBytes { fill($0) }
        return data
    }
}
