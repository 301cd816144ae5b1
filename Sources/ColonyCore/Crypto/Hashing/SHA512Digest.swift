/// A SHA-512 digest (64 bytes): a value, `Hashable`, printed as lowercase hex.
public struct SHA512Digest: HashDigest {
    /// 64: the size of every SHA-512 digest.
    public static let byteCount = 64
    /// "SHA-512".
    public static let algorithmName = "SHA-512"

    // 64 bytes as big-endian words, so the synthesized Hashable and Equatable compare the bytes.
    private let w0: UInt64
    private let w1: UInt64
    private let w2: UInt64
    private let w3: UInt64
    private let w4: UInt64
    private let w5: UInt64
    private let w6: UInt64
    private let w7: UInt64

    /// The digest whose bytes are `bytes`; throws unless there are exactly 64 of them.
    public init(bytes: some Collection<UInt8>) throws(CryptoError) {
        let checked = try Self.checkedBytes(bytes)
        self = checked.withUnsafeBytes { Self(raw: $0) }
    }

    /// Reads the digest from `raw`, which holds exactly 64 bytes.
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Self.byteCount)
        w0 = raw.bigEndianWord(0)
        w1 = raw.bigEndianWord(1)
        w2 = raw.bigEndianWord(2)
        w3 = raw.bigEndianWord(3)
        w4 = raw.bigEndianWord(4)
        w5 = raw.bigEndianWord(5)
        w6 = raw.bigEndianWord(6)
        w7 = raw.bigEndianWord(7)
    }

    /// A digest written by `fill` into a 64-byte buffer.
    init(filling fill: (UnsafeMutableRawBufferPointer) -> Void) {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        self = Swift.withUnsafeMutableBytes(of: &buffer) { raw in
            fill(raw)
            return Self(raw: UnsafeRawBufferPointer(raw))
        }
    }

    /// Calls `body` with the digest's 64 bytes, which are valid only during the call.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        // A homogeneous tuple is laid out contiguously, like a C array.
        let buffer = (
            w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian, w4.bigEndian, w5.bigEndian, w6.bigEndian,
            w7.bigEndian
        )
        return try Swift.withUnsafeBytes(of: buffer) { try body($0) }
    }
}
