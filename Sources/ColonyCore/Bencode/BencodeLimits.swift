/// Bounds the decoder enforces before it allocates, so a hostile peer cannot make it use unbounded memory or time.
public struct BencodeLimits: Sendable, Hashable {
    /// The largest input, in bytes, that `decode` accepts; for `decodePrefix`, the longest value it will read.
    public var maxInputSize: Int
    /// The longest byte string, in bytes; checked against the declared length before any copy.
    public var maxStringLength: Int
    /// The most lists and dictionaries open at once; 1 allows a flat list or dictionary.
    public var maxDepth: Int
    /// The most values and dictionary keys in one input, counting every container, scalar and key.
    public var maxElements: Int

    /// The highest `maxDepth` that `validate()` accepts: decoded values are later compared, hashed, encoded and
    /// freed by recursive code, which must stay far from the end of a thread's stack.
    public static let depthCeiling = 1_000

    /// The highest `maxStringLength` and `maxInputSize` that `validate()` accepts (1 GiB); also keeps the decoder's
    /// length arithmetic far from overflow.
    public static let sizeCeiling = 1 << 30

    /// Limits with the given bounds; the defaults are those of `datagram`.
    public init(maxInputSize: Int = 1_500, maxStringLength: Int = 1_500, maxDepth: Int = 32, maxElements: Int = 1_024) {
        self.maxInputSize = maxInputSize
        self.maxStringLength = maxStringLength
        self.maxDepth = maxDepth
        self.maxElements = maxElements
    }

    /// For one KRPC datagram. Colony sends under 1,400 bytes; 1,500 (one Ethernet MTU) leaves room for stock nodes.
    /// KRPC nests about 4 deep, but a BEP 44 item's `v` may be any value, so depth allows 32. Every value takes at
    /// least 2 bytes, so the element bound never rejects an input that fits the size bound.
    public static let datagram = BencodeLimits()

    /// For a TCP frame's bencoded header, a signed manifest or a custody batch: 16 MiB in all, strings up to
    /// 4 MiB (a 1 MiB chunk with room to spare), and at most 2^19 elements so that memory stays within a few
    /// tens of MiB (about 100 bytes per decoded element).
    public static let frame = BencodeLimits(
        maxInputSize: 16 << 20,
        maxStringLength: 4 << 20,
        maxDepth: 64,
        maxElements: 1 << 19
    )

    /// Throws when a field is out of range, naming the field and its allowed range.
    public func validate() throws(BencodeError) {
        try Self.check(maxInputSize, "maxInputSize", 1...Self.sizeCeiling)
        try Self.check(maxStringLength, "maxStringLength", 0...Self.sizeCeiling)
        try Self.check(maxDepth, "maxDepth", 0...Self.depthCeiling)
        try Self.check(maxElements, "maxElements", 1...Int(Int32.max))
    }

    private static func check(_ value: Int, _ field: String, _ range: ClosedRange<Int>) throws(BencodeError) {
        guard range.contains(value) else {
            throw BencodeError(
                code: .invalidLimits,
                message:
                    "BencodeLimits.\(field) is \(value); set it between \(range.lowerBound) and \(range.upperBound)",
                offset: 0
            )
        }
    }
}
