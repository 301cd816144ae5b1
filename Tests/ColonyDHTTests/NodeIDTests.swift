import ColonyDHT
import Testing

@Suite struct NodeIDTests {
    @Test func bytesAndHexRoundTrip() throws {
        let bytes: [UInt8] = (0..<20).map { UInt8($0 * 13 & 0xFF) }
        let id = try #require(NodeID(bytes: bytes))
        #expect(id.bytes == bytes)
        #expect(NodeID(hex: id.hex) == id)
        #expect(NodeID(hex: id.hex.uppercased()) == id)
        #expect(NodeID(bytes: bytes.dropLast()) == nil)
        #expect(NodeID(hex: "zz" + id.hex.dropFirst(2)) == nil)
    }

    @Test func xorDistanceAndOrder() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let a = NodeID.random(using: &generator)
            let b = NodeID.random(using: &generator)
            let d = a.distance(to: b)
            #expect(d.bytes == zip(a.bytes, b.bytes).map { $0 ^ $1 })
            #expect((a < b) == a.bytes.lexicographicallyPrecedes(b.bytes))
            #expect(a.distance(to: a) == .zero)
            let prefix = a.sharedPrefixLength(with: b)
            if prefix < 160 { #expect(a.bit(prefix) != b.bit(prefix)) }
            for index in 0..<prefix { #expect(a.bit(index) == b.bit(index)) }
            let flipped = a.setting(bit: 100, to: !a.bit(100))
            #expect(a.sharedPrefixLength(with: flipped) == 100)
        }
        #expect(NodeID.zero.leadingZeroBitCount == 160)
        #expect(NodeID.max.leadingZeroBitCount == 0)
    }
}
