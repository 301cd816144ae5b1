/// A SHA-256 digest (32 bytes): a value, `Hashable`, printed as lowercase hex.
public struct SHA256Digest: HashDigest {
    /// 32: the size of every SHA-256 digest.
    public static let byteCount = 32
    /// "SHA-256".
    public static let algorithmName = "SHA-256"

    // 32 bytes as big-endian words, so the synthesized Hashable and Equatable compare the bytes.
    private let w0: UInt64
    private let w1: UInt64
    private let w2: UInt64
    private let w3: UInt64

    /// The digest whose bytes are `bytes`; throws unless there are exactly 32 of them.
    public init(bytes: some Collection<UInt8>) throws(CryptoError) {
        let checked = try Self.checkedBytes(bytes)
        self = checked.withUnsafeBytes { Self(raw: $0) }
    }

    /// Reads the digest from `raw`, which holds exactly 32 bytes.
    init(raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Self.byteCount)
        w0 = raw.bigEndianWord(0)
        w1 = raw.bigEndianWord(1)
        w2 = raw.bigEndianWord(2)
        w3 = raw.bigEndianWord(3)
    }

    /// A digest written by `fill` into a 32-byte buffer.
    init(filling fill: (UnsafeMutableRawBufferPointer) -> Void) {
        var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        self = Swift.withUnsafeMutableBytes(of: &buffer) { raw in
            fill(raw)
            return Self(raw: UnsafeRawBufferPointer(raw))
        }
    }

    /// Calls `body` with the digest's 32 bytes, which are valid only during the call.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        // A homogeneous tuple is laid out contiguously, like a C array.
        let buffer = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return try Swift.withUnsafeBytes(of: buffer) { try body($0) }
    }
}
