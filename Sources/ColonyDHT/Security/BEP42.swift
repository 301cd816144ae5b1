import ColonyNet

/// BEP 42: node IDs tied to the node's external IPv4 address, so that nobody can pick IDs next to a target at will.
///
/// The top 21 bits of a compliant ID are the top 21 bits of CRC-32C over the masked address with a 3-bit `r`
/// folded in, and the last byte carries `r` in its low 3 bits. Addresses in local ranges are exempt.
public enum BEP42 {
    /// The mask applied to the IPv4 address before hashing: fewer bits of the high octets count, so one owner of
    /// a large block controls few prefixes.
    static let addressMask: UInt32 = 0x030F_3FFF

    /// The bits of a 160-bit ID that the checksum fixes: the top 21 (as the `high` word's top bits).
    static let prefixMask: UInt64 = 0xFFFF_F800_0000_0000

    /// The CRC-32C whose top 21 bits a compliant ID for `address` (host order) must start with, for `r` in 0...7.
    public static func checksum(for address: UInt32, r: UInt8) -> UInt32 {
        CRC32C.checksum(bigEndian: address & addressMask | UInt32(r & 7) << 29)
    }

    /// The compliant ID for `address` (host order) and the random byte `random`, other bits taken from `base`.
    ///
    /// `random & 7` selects the checksum (`r`), the whole byte becomes the last byte of the ID, and the 21-bit
    /// prefix comes from the checksum; the remaining 131 bits are those of `base`, which should be random.
    public static func nodeID(for address: UInt32, random: UInt8, base: NodeID) -> NodeID {
        let crc = UInt64(checksum(for: address, r: random))
        var id = base
        id.high = id.high & ~prefixMask | crc << 32 & prefixMask
        id.low = id.low & 0xFFFF_FF00 | UInt32(random)
        return id
    }

    /// A compliant ID for `address` (host order) with every free bit drawn from `generator`.
    public static func nodeID(for address: UInt32, using generator: inout some RandomNumberGenerator) -> NodeID {
        let random = UInt8.random(in: 0...255, using: &generator)
        return nodeID(for: address, random: random, base: NodeID.random(using: &generator))
    }

    /// A compliant ID for `address` (host order) from the system's secure generator.
    public static func nodeID(for address: UInt32) -> NodeID {
        var generator = SystemRandomNumberGenerator()
        return nodeID(for: address, using: &generator)
    }

    /// True when `id` is compliant for `address` (host order), or when the address is local and thus exempt.
    public static func isValid(_ id: NodeID, for address: UInt32) -> Bool {
        if Endpoint(address: address, port: 0).isLocal { return true }
        let crc = UInt64(checksum(for: address, r: UInt8(truncatingIfNeeded: id.low)))
        return (id.high ^ crc << 32) & prefixMask == 0
    }

    /// True when the node's ID is compliant for the address it was seen at (local addresses are exempt).
    public static func isValid(_ node: NodeInfo) -> Bool { isValid(node.id, for: node.endpoint.address) }
}
