import ColonyCore

/// A blob's name: the SHA-256 of its encoded manifest (the "root hash"), printed as 64 lowercase hex digits.
///
/// IDs arrive from users and peers and become file names, so the only text form accepted is exactly 64 hex
/// digits; paths are always built from the parsed digest (`hex`, lowercase), never from the text handed in.
public struct BlobID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The root hash: the SHA-256 of the blob's encoded manifest.
    public let root: SHA256Digest

    /// The ID whose root hash is `root`.
    public init(root: SHA256Digest) {
        self.root = root
    }

    /// The ID written as exactly 64 hex digits, or nil for anything else (wrong length, separators, dots, signs,
    /// spaces). Upper-case digits are accepted and mean the same ID: the canonical spelling is `hex`.
    public init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == SHA256Digest.byteCount * 2, utf8.allSatisfy(Self.isHexDigit) else { return nil }
        guard let digest = try? SHA256Digest(hex: String(decoding: utf8, as: UTF8.self)) else { return nil }
        root = digest
    }

    /// The ID whose root hash is the 32 bytes `bytes` (as carried in wire headers), or nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard let digest = try? SHA256Digest(bytes: bytes) else { return nil }
        root = digest
    }

    /// The canonical text form: 64 lowercase hex digits, also the blob's file name in the store.
    public var hex: String { root.hex }

    /// The blob's DHT key: the first 20 bytes of the root hash (holders announce themselves there).
    public var dhtKey: [UInt8] { Array(root.bytes.prefix(20)) }

    public var description: String { hex }

    /// Orders IDs by their root hash bytes.
    public static func < (lhs: BlobID, rhs: BlobID) -> Bool { lhs.root < rhs.root }

    private static func isHexDigit(_ character: UInt8) -> Bool {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            true
        default: false
        }
    }
}
