import Foundation

/// An Ed25519 public key (RFC 8032): checks signatures; compares and hashes by its 32 bytes.
public struct Ed25519PublicKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32-byte encoding of the key.
    public let rawRepresentation: Data

    private let key: EVPKey

    /// The public key whose 32-byte encoding is `rawRepresentation`; throws on any other length.
    public init(rawRepresentation: some DataProtocol) throws(CryptoError) {
        let bytes = Data(rawRepresentation)
        let key = try bytes.withUnsafeBytes { raw in
            Result { () throws(CryptoError) in try EVPKey.ed25519Public(raw: raw) }
        }
        .get()
        self.init(rawRepresentation: bytes, key: key)
    }

    /// A public key sharing libcrypto's key object with its private key.
    init(rawRepresentation: Data, key: EVPKey) {
        self.rawRepresentation = rawRepresentation
        self.key = key
    }

    /// Whether `signature` is a valid signature of `data` by this key. A signature of the wrong length, or bytes
    /// that are not a signature at all, give false.
    public func isValidSignature(_ signature: some DataProtocol, for data: some DataProtocol) -> Bool {
        guard signature.count == EVPKey.signatureLength else { return false }
        return Data(signature).withUnsafeBytes { signatureBytes in
            data.withContiguousBytes { key.verify(signatureBytes, message: $0) }
        }
    }

    /// The key as lowercase hex.
    public var hex: String {
        rawRepresentation.map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    public var description: String { "Ed25519PublicKey(\(hex))" }

    public static func == (lhs: Ed25519PublicKey, rhs: Ed25519PublicKey) -> Bool {
        lhs.rawRepresentation == rhs.rawRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawRepresentation)
    }
}
