/// The size limits BEP 44 puts on stored items.
public enum ItemLimits {
    /// The largest bencoded `v` a node stores, in bytes (BEP 44: puts above this may be refused with 205).
    public static let maxValueSize = 1000
    /// The longest `salt` of a mutable item, in bytes (BEP 44: longer salts are refused with 207).
    public static let maxSaltSize = 64
    /// The length of an Ed25519 public key (`k`), in bytes.
    public static let publicKeySize = 32
    /// The length of an Ed25519 signature (`sig`), in bytes.
    public static let signatureSize = 64
}
