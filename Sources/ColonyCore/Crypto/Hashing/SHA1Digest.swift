/// A SHA-1 digest (20 bytes): a value, `Hashable`, printed as lowercase hex.
public struct SHA1Digest: HashDigest {
    /// 20: the size of every SHA-1 digest.
    public static let byteCount = 20
    /// "SHA-1".
    public static let algorithmName = "SHA-1"

    // 20 bytes: big-endian words, so the synthesized Hashable and Equatable compare the bytes.
    private let w0: UInt64
    private let w1: UInt64
    private let tail: UInt32

    /// The digest whose bytes are `bytes`; throws unless there are exactly 20 of them.
    public init(bytes: some Collection<UInt8>) throws(CryptoError) {
        let checked = try Self.checkedBytes(bytes)
        self = checked.withUnsafeBytes { Self(raw: $0) }
    }

    /// Reads the digest from `raw`, which holds exactly 20 bytes.
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Self.byteCount)
        w0 = raw.bigEndianWord(0)
        w1 = raw.bigEndianWord(1)
        tail = UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    }

    /// A digest written by `fill` into a 20-byte buffer.
    init(filling fill: (UnsafeMutableRawBufferPointer) -> Void) {
        var buffer = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        self = Swift.withUnsafeMutableBytes(of: &buffer) { raw in
            fill(raw)
            return Self(raw: UnsafeRawBufferPointer(raw))
        }
    }

    /// Calls `body` with the digest's 20 bytes, which are valid only during the call.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        // A homogeneous tuple is laid out contiguously, like a C array.
        let buffer = (
            UInt32(truncatingIfNeeded: w0 >> 32).bigEndian, UInt32(truncatingIfNeeded: w0).bigEndian,
            UInt32(truncatingIfNeeded: w1 >> 32).bigEndian, UInt32(truncatingIfNeeded: w1).bigEndian, tail.bigEndian
        )
        return try Swift.withUnsafeBytes(of: buffer) { try body($0) }
    }
}
