/// A 160-bit Kademlia identifier: a node ID, an info-hash or a BEP 44 target. Distance is XOR (BEP 5).
///
/// Stored as three integers, most significant first, so comparisons and XOR are a few instructions each; the
/// simulator compares millions of them.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Bits 159…96.
    public var high: UInt64
    /// Bits 95…32.
    public var middle: UInt64
    /// Bits 31…0.
    public var low: UInt32

    /// The number of bytes in the wire form.
    public static let byteCount = 20
    /// The number of bits.
    public static let bitCount = 160

    /// An ID from its three parts.
    public init(high: UInt64, middle: UInt64, low: UInt32) {
        self.high = high
        self.middle = middle
        self.low = low
    }

    /// The all-zero ID.
    public static let zero = NodeID(high: 0, middle: 0, low: 0)
    /// The all-ones ID: the largest distance.
    public static let max = NodeID(high: .max, middle: .max, low: .max)

    /// The ID whose 20 big-endian bytes are `bytes`; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt64 = 0
        var middle: UInt64 = 0
        var low: UInt32 = 0
        for (index, byte) in bytes.enumerated() {
            switch index {
            case 0..<8: high = high << 8 | UInt64(byte)
            case 8..<16: middle = middle << 8 | UInt64(byte)
            default: low = low << 8 | UInt32(byte)
            }
        }
        self.init(high: high, middle: middle, low: low)
    }

    /// The ID written as 40 hex digits; nil for anything else.
    public init?(hex: some StringProtocol) {
        guard hex.utf8.count == 40 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        var iterator = hex.utf8.makeIterator()
        while let first = iterator.next(), let second = iterator.next() {
            guard let a = Self.nibble(first), let b = Self.nibble(second) else { return nil }
            bytes.append(a << 4 | b)
        }
        self.init(bytes: bytes)
    }

    /// A uniformly random ID from `generator`.
    public static func random(using generator: inout some RandomNumberGenerator) -> NodeID {
        NodeID(high: generator.next(), middle: generator.next(), low: generator.next())
    }

    /// A uniformly random ID from the system's secure generator.
    public static func random() -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// The 20 big-endian bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        for index in 0..<8 {
            out[index] = UInt8(truncatingIfNeeded: high >> (56 - 8 * index))
            out[8 + index] = UInt8(truncatingIfNeeded: middle >> (56 - 8 * index))
        }
        for index in 0..<4 { out[16 + index] = UInt8(truncatingIfNeeded: low >> (24 - 8 * index)) }
        return out
    }

    /// 40 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(40)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public var description: String { hex }

    /// The XOR distance to `other`, itself an ID-sized number.
    @inlinable public func distance(to other: NodeID) -> NodeID {
        NodeID(high: high ^ other.high, middle: middle ^ other.middle, low: low ^ other.low)
    }

    /// The number of leading zero bits (160 for zero): for a distance, 160 minus the bucket's bit length.
    @inlinable public var leadingZeroBitCount: Int {
        if high != 0 { return high.leadingZeroBitCount }
        if middle != 0 { return 64 + middle.leadingZeroBitCount }
        return 128 + low.leadingZeroBitCount
    }

    /// The number of leading bits shared with `other`.
    @inlinable public func sharedPrefixLength(with other: NodeID) -> Int { distance(to: other).leadingZeroBitCount }

    /// The bit at `index`, counting from the most significant (0) to the least (159).
    @inlinable public func bit(_ index: Int) -> Bool {
        switch index {
        case 0..<64: return high >> (63 - index) & 1 == 1
        case 64..<128: return middle >> (127 - index) & 1 == 1
        default: return low >> (159 - index) & 1 == 1
        }
    }

    /// This ID with the bit at `index` (0 = most significant) set to `value`.
    public func setting(bit index: Int, to value: Bool) -> NodeID {
        var copy = self
        switch index {
        case 0..<64:
            let mask: UInt64 = 1 << (63 - index)
            copy.high = value ? high | mask : high & ~mask
        case 64..<128:
            let mask: UInt64 = 1 << (127 - index)
            copy.middle = value ? middle | mask : middle & ~mask
        default:
            let mask: UInt32 = 1 << (159 - index)
            copy.low = value ? low | mask : low & ~mask
        }
        return copy
    }

    /// True when `a` is closer to this ID than `b` is (XOR metric); ties are false.
    @inlinable public func isCloser(_ a: NodeID, than b: NodeID) -> Bool { distance(to: a) < distance(to: b) }

    @inlinable public static func < (lhs: NodeID, rhs: NodeID) -> Bool {
        if lhs.high != rhs.high { return lhs.high < rhs.high }
        if lhs.middle != rhs.middle { return lhs.middle < rhs.middle }
        return lhs.low < rhs.low
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
