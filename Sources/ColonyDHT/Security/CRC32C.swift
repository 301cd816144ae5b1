/// CRC-32C (Castagnoli), the checksum BEP 42 hashes masked IP addresses with.
///
/// Not cryptography: a table-driven cyclic redundancy check. zlib's `crc32` uses the IEEE polynomial, which gives
/// different values, so Colony carries this one.
public enum CRC32C {
    /// The reflected Castagnoli polynomial.
    static let polynomial: UInt32 = 0x82F6_3B78

    /// One entry per byte value: the remainder after shifting that byte through eight rounds.
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? value >> 1 ^ polynomial : value >> 1 }
        return value
    }

    /// The CRC-32C of `bytes` (initial value and final XOR 0xFFFFFFFF): "123456789" gives 0xE3069283.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        ~update(0xFFFF_FFFF, with: bytes)
    }

    /// The checksum of four bytes given as a big-endian integer, without building a byte sequence.
    public static func checksum(bigEndian value: UInt32) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for shift in stride(from: 24, through: 0, by: -8) {
            crc = table[Int((crc ^ value >> UInt32(shift)) & 0xFF)] ^ crc >> 8
        }
        return ~crc
    }

    /// Feeds `bytes` into a running (not yet inverted) register.
    static func update(_ register: UInt32, with bytes: some Sequence<UInt8>) -> UInt32 {
        var crc = register
        table.withUnsafeBufferPointer { table in
            for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ crc >> 8 }
        }
        return crc
    }
}
