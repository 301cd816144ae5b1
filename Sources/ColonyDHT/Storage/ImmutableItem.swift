import ColonyCore

/// A BEP 44 immutable item: any bencoded value, stored under the SHA-1 of its encoding.
public struct ImmutableItem: Hashable, Sendable {
    /// The stored value. Setting it recomputes `target`, so the two never disagree.
    public var value: BencodeValue {
        didSet { target = Self.target(of: value) }
    }
    /// Where the item lives in the DHT: SHA-1 of `value.encoded()`, length prefix included (BEP 44 test 3).
    public private(set) var target: NodeID

    /// The item holding `value`.
    public init(value: BencodeValue) {
        self.value = value
        target = Self.target(of: value)
    }

    /// The target of an immutable item holding `value`.
    ///
    /// The encoding is canonical and Colony's decoder refuses any other, so the bytes hashed here are the bytes that
    /// arrived in the put (BEP 44 asks to hash `v` exactly as sent).
    public static func target(of value: BencodeValue) -> NodeID {
        NodeID(SHA1.hash(value.encoded()))
    }

    /// The size of `value` as bencoded, the figure `ItemLimits.maxValueSize` bounds.
    public var encodedSize: Int { value.encodedCount }
}
