import Foundation

/// A fixed-size hash value: compares and hashes by its bytes, prints as lowercase hex.
public protocol HashDigest: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number of bytes in every digest of this kind: 20 for SHA-1, 32 for SHA-256.
    static var byteCount: Int { get }
    /// The algorithm's name for messages: "SHA-256".
    static var algorithmName: String { get }

    /// The digest whose bytes are `bytes`; throws unless there are exactly `byteCount` of them.
    init(bytes: some Collection<UInt8>) throws(CryptoError)

    /// Calls `body` with the digest's bytes, which are valid only during the call.
    func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result
}

extension HashDigest {
    /// The digest's bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The digest's bytes as `Data`.
    public var data: Data { withUnsafeBytes { Data($0) } }

    /// The digest as lowercase hexadecimal, two digits per byte.
    public var hex: String {
        withUnsafeBytes { raw in
            let digits = Array("0123456789abcdef".utf8)
            return String(unsafeUninitializedCapacity: raw.count * 2) { text in
                for (index, byte) in raw.enumerated() {
                    text[index * 2] = digits[Int(byte >> 4)]
                    text[index * 2 + 1] = digits[Int(byte & 0x0f)]
                }
                return raw.count * 2
            }
        }
    }

    public var description: String { hex }

    /// The digest written as `hex` (upper or lower case); throws on a wrong length or a non-hex character.
    public init(hex: some StringProtocol) throws(CryptoError) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == Self.byteCount * 2 else {
            throw CryptoError(
                .invalidLength,
                "a \(Self.algorithmName) digest is \(Self.byteCount * 2) hex digits, got \(utf8.count)")
        }
        var nibbles = [UInt8]()
        nibbles.reserveCapacity(utf8.count)
        for (position, character) in utf8.enumerated() {
            guard let value = Self.nibble(character) else {
                throw CryptoError(
                    .invalidHex,
                    "a \(Self.algorithmName) digest must be hex digits (0-9, a-f); character \(position) of "
                        + "\"\(hex)\" is not")
            }
            nibbles.append(value)
        }
        let bytes = (0..<Self.byteCount).map { nibbles[$0 * 2] << 4 | nibbles[$0 * 2 + 1] }
        try self.init(bytes: bytes)
    }

    /// Orders digests by their bytes, first byte most significant.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.lexicographicallyPrecedes(right) } }
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Throws unless `bytes` has exactly `byteCount` elements; returns them as an array.
    static func checkedBytes(_ bytes: some Collection<UInt8>) throws(CryptoError) -> [UInt8] {
        let array = Array(bytes)
        guard array.count == byteCount else {
            throw CryptoError(
                .invalidLength, "a \(algorithmName) digest is \(byteCount) bytes, got \(array.count)")
        }
        return array
    }
}

extension UnsafeRawBufferPointer {
    /// The big-endian 64-bit word at word position `index`; digests keep their bytes as such words so that the
    /// synthesized `Hashable` works and no heap storage is needed.
    func bigEndianWord(_ index: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
    }
}
