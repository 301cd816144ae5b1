import ColonyCore

/// The arguments of a BEP 44 `put` query, apart from the sender's `id`.
///
/// Immutable items carry only `token` and `value`; mutable ones add `publicKey`, `signature` and `seq`, and may
/// add `salt` and `cas`. The codec checks shapes (key 32 bytes, signature 64 bytes, all three together); sizes
/// that BEP 44 answers with its own codes (`v` over 1000 bytes → 205, salt over 64 bytes → 207) and the signature
/// itself are the storage layer's to check.
public struct PutArguments: Hashable, Sendable {
    /// The write token from an earlier `get` reply (`token`).
    public var token: [UInt8]
    /// The item (`v`), any bencoded value. The decoder is canonical, so `value.encoded()` is exactly the bytes the
    /// sender hashed or signed.
    public var value: BencodeValue
    /// The Ed25519 public key of a mutable item (`k`, 32 bytes).
    public var publicKey: [UInt8]?
    /// The Ed25519 signature of a mutable item (`sig`, 64 bytes).
    public var signature: [UInt8]?
    /// The sequence number of a mutable item (`seq`).
    public var seq: Int64?
    /// The salt of a mutable item (`salt`). BEP 44 treats an empty salt as none, so decoding gives nil for it and
    /// encoding leaves an empty one out.
    public var salt: [UInt8]?
    /// Compare-and-swap: store only if the stored item's sequence number equals this (`cas`).
    public var cas: Int64?

    /// Put arguments; an immutable item needs only `token` and `value`.
    public init(
        token: [UInt8],
        value: BencodeValue,
        publicKey: [UInt8]? = nil,
        signature: [UInt8]? = nil,
        seq: Int64? = nil,
        salt: [UInt8]? = nil,
        cas: Int64? = nil
    ) {
        self.token = token
        self.value = value
        self.publicKey = publicKey
        self.signature = signature
        self.seq = seq
        self.salt = salt
        self.cas = cas
    }

    /// True when this puts a mutable (signed) item.
    public var isMutable: Bool { publicKey != nil }
}
