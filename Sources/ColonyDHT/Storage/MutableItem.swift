import ColonyCore

/// A BEP 44 mutable item: a value signed with an Ed25519 key, stored under SHA-1(public key ‖ salt).
///
/// Anyone may re-put an item they hold (the signature travels with it); only the key owner can make a new `seq`.
public struct MutableItem: Hashable, Sendable {
    /// The 32-byte Ed25519 public key (`k`). Setting it recomputes `target`.
    public var publicKey: [UInt8] {
        didSet { target = Self.target(publicKey: publicKey, salt: salt) }
    }
    /// The salt (at most `ItemLimits.maxSaltSize` bytes); empty means none, exactly as BEP 44 says. Setting it
    /// recomputes `target`.
    public var salt: [UInt8] {
        didSet { target = Self.target(publicKey: publicKey, salt: salt) }
    }
    /// The sequence number; a node only ever moves an item forward to a higher one.
    public var seq: Int64
    /// The signed value.
    public var value: BencodeValue
    /// The 64-byte Ed25519 signature over `signedBytes(salt:seq:value:)`.
    public var signature: [UInt8]
    /// Where the item lives: SHA-1(publicKey ‖ salt), kept in step with both.
    public private(set) var target: NodeID

    /// An item from its parts as they arrive in a put; nothing is checked here (see `hasValidSignature` and
    /// `DHTStorage.store(_:cas:now:)`).
    public init(publicKey: [UInt8], salt: [UInt8] = [], seq: Int64, value: BencodeValue, signature: [UInt8]) {
        self.publicKey = publicKey
        self.salt = salt
        self.seq = seq
        self.value = value
        self.signature = signature
        target = Self.target(publicKey: publicKey, salt: salt)
    }

    /// The DHT key of the items of `publicKey` with `salt`: SHA-1 of the key's bytes followed by the salt's.
    public static func target(publicKey: [UInt8], salt: [UInt8]) -> NodeID {
        NodeID(SHA1.hash(publicKey + salt))
    }

    /// The bytes BEP 44 signs: `4:salt<len>:<salt>` when the salt is not empty, then `3:seqi<seq>e1:v` and the
    /// bencoded value.
    ///
    /// This is the inside of a bencoded dictionary without its `d`…`e`, built by hand on purpose: a dictionary
    /// encoder would add the brackets.
    public static func signedBytes(salt: [UInt8], seq: Int64, value: BencodeValue) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(salt.count + value.encodedCount + 40)
        if !salt.isEmpty {
            BencodeValue.text("salt").encode(into: &bytes)
            BencodeValue.bytes(salt).encode(into: &bytes)
        }
        BencodeValue.text("seq").encode(into: &bytes)
        BencodeValue.integer(seq).encode(into: &bytes)
        BencodeValue.text("v").encode(into: &bytes)
        value.encode(into: &bytes)
        return bytes
    }

    /// A new item signed with `key`: what a publisher puts.
    public static func signed(value: BencodeValue, salt: [UInt8], seq: Int64, key: Ed25519PrivateKey) -> MutableItem {
        let signature = key.signature(for: signedBytes(salt: salt, seq: seq, value: value))
        return MutableItem(
            publicKey: Array(key.publicKey.rawRepresentation), salt: salt, seq: seq, value: value,
            signature: Array(signature))
    }

    /// The bytes this item's signature covers.
    public var signedBytes: [UInt8] { Self.signedBytes(salt: salt, seq: seq, value: value) }

    /// Whether `signature` is a valid Ed25519 signature of `signedBytes` by `publicKey`. False for a key or
    /// signature of the wrong length and for 32 bytes that are not a curve point.
    public var hasValidSignature: Bool {
        guard publicKey.count == ItemLimits.publicKeySize, signature.count == ItemLimits.signatureSize,
            let key = try? Ed25519PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: signedBytes)
    }

    /// The size of `value` as bencoded, the figure `ItemLimits.maxValueSize` bounds.
    public var encodedSize: Int { value.encodedCount }
}
