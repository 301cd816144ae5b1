import ColonyDHT
import ColonyNet
import Testing

@Suite struct BEP42Tests {
    /// One row of the BEP 42 test-vector table.
    struct Vector: Sendable, CustomStringConvertible {
        var host: String
        var random: UInt8
        var checksum: UInt32
        var exampleID: String
        var description: String { host }
    }

    /// The five rows of the BEP 42 table; the checksums are CRC-32C of the masked address with `r` folded in.
    static let vectors: [Vector] = [
        Vector(
            host: "124.31.75.21", random: 1, checksum: 0x5FBF_BDB2,
            exampleID: "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401"),
        Vector(
            host: "21.75.31.124", random: 86, checksum: 0x5A3C_E9B0,
            exampleID: "5a3ce9c14e7a08645677bbd1cfe7d8f956d53256"),
        Vector(
            host: "65.23.51.170", random: 22, checksum: 0xA5D4_344A,
            exampleID: "a5d43220bc8f112a3d426c84764f8c2a1150e616"),
        Vector(
            host: "84.124.73.14", random: 65, checksum: 0x1B03_217B,
            exampleID: "1b0321dd1bb1fe518101ceef99462b947a01ff41"),
        Vector(
            host: "43.213.53.83", random: 90, checksum: 0xE56F_6972,
            exampleID: "e56f6cbf5b7c4be0237986d5243b87aa6d51305a"),
    ]

    @Test func crc32cKnownValues() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        // iSCSI (RFC 3720 B.4) vectors.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func crc32cOfAWordMatchesItsBytes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let value = UInt32.random(in: 0...UInt32.max, using: &generator)
            let bytes = [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            #expect(CRC32C.checksum(bigEndian: value) == CRC32C.checksum(bytes))
        }
    }

    @Test(arguments: vectors) func specVectors(_ vector: Vector) throws {
        let address = try #require(Endpoint(host: vector.host, port: 0)).address
        let example = try #require(NodeID(hex: vector.exampleID))
        #expect(BEP42.checksum(for: address, r: vector.random & 7) == vector.checksum)
        // The bits the spec leaves free come from `base`: given the example as base, the example comes back.
        #expect(BEP42.nodeID(for: address, random: vector.random, base: example) == example)
        #expect(BEP42.isValid(example, for: address))

        // From any other base, the spec-fixed parts (21-bit prefix, last byte) are those of the example.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let id = BEP42.nodeID(for: address, random: vector.random, base: NodeID.random(using: &generator)).bytes
            #expect(id[0] == example.bytes[0])
            #expect(id[1] == example.bytes[1])
            #expect(id[2] & 0xF8 == example.bytes[2] & 0xF8)
            #expect(id[19] == vector.random)
        }
    }

    @Test(arguments: vectors) func exampleIsInvalidElsewhere(_ vector: Vector) throws {
        let address = try #require(Endpoint(host: vector.host, port: 0)).address
        let example = try #require(NodeID(hex: vector.exampleID))
        // Another r, or another address, gives another prefix (deterministic inputs, so no flakiness).
        var otherR = example
        otherR.low ^= 1
        #expect(!BEP42.isValid(otherR, for: address))
        #expect(!BEP42.isValid(example, for: address ^ 0x0000_0100))
        var flippedPrefix = example
        flippedPrefix.high ^= 1 << 43  // the 21st bit from the top
        #expect(!BEP42.isValid(flippedPrefix, for: address))
        var flippedFree = example
        flippedFree.high ^= 1 << 42  // the 22nd bit is free
        #expect(BEP42.isValid(flippedFree, for: address))
    }

    @Test func generatedIDsAreValidForEveryR() throws {
        let address = try #require(Endpoint(host: "8.8.4.4", port: 0)).address
        var generator = SystemRandomNumberGenerator()
        for random in 0...255 {
            let id = BEP42.nodeID(for: address, random: UInt8(random), base: NodeID.random(using: &generator))
            #expect(BEP42.isValid(id, for: address))
            #expect(BEP42.isValid(NodeInfo(id: id, endpoint: Endpoint(address: address, port: 6881))))
        }
        #expect(BEP42.isValid(BEP42.nodeID(for: address, using: &generator), for: address))
        #expect(BEP42.isValid(BEP42.nodeID(for: address), for: address))
    }

    @Test func randomIDsAreRarelyValidAndLocalAddressesAreExempt() throws {
        let public1 = try #require(Endpoint(host: "124.31.75.21", port: 0)).address
        var generator = RoutingTestRandom(seed: 42)
        var valid = 0
        for _ in 0..<2_000 where BEP42.isValid(NodeID.random(using: &generator), for: public1) { valid += 1 }
        // A random ID matches a 21-bit prefix with probability 2^-21 (times 8 values of r): expect none here.
        #expect(valid == 0)
        for host in [
            "127.0.0.1", "10.1.2.3", "172.16.5.4", "172.31.255.255", "192.168.1.1", "169.254.0.9", "100.64.1.1",
        ] {
            let address = try #require(Endpoint(host: host, port: 0)).address
            #expect(BEP42.isValid(NodeID.random(using: &generator), for: address), "\(host) is exempt")
        }
        let notLocal = try #require(Endpoint(host: "172.32.0.1", port: 0)).address
        #expect(!BEP42.isValid(NodeID(hex: "5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401")!, for: notLocal))
    }
}
