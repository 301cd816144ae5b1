import ColonyCore

/// One unit of the TCP wire: a bencoded dictionary header and optional raw bytes after it.
///
/// On the wire: the header's length H and the payload's length P, each 4 bytes big-endian, then the H header bytes,
/// then the P payload bytes. Blob chunks travel as payloads so that they are never bencoded or copied into a header.
public struct Frame: Sendable, Hashable {
    /// What the frame is about: a method name, a chunk hash, a request ID.
    public var header: BencodeDictionary
    /// Raw bytes following the header; may be empty.
    public var payload: [UInt8]

    /// The length of the two size fields in front of every frame.
    public static let prefixLength = 8

    /// A frame with `header` and `payload`.
    public init(header: BencodeDictionary, payload: [UInt8] = []) {
        self.header = header
        self.payload = payload
    }

    /// The whole frame as one array, for tests and small frames; connections send header and payload without copying
    /// the payload.
    public func encoded() -> [UInt8] {
        var bytes = encodedPrefixAndHeader(reservingExtra: payload.count)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The two lengths and the header, with room reserved for `extra` more bytes.
    func encodedPrefixAndHeader(reservingExtra extra: Int = 0) -> [UInt8] {
        let headerValue = BencodeValue.dictionary(header)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.prefixLength + headerValue.encodedCount + extra)
        bytes.append(contentsOf: repeatElement(0, count: Self.prefixLength))
        headerValue.encode(into: &bytes)
        Self.storeBigEndian(UInt32(truncatingIfNeeded: bytes.count - Self.prefixLength), in: &bytes, at: 0)
        Self.storeBigEndian(UInt32(truncatingIfNeeded: payload.count), in: &bytes, at: 4)
        return bytes
    }

    private static func storeBigEndian(_ value: UInt32, in bytes: inout [UInt8], at offset: Int) {
        bytes[offset] = UInt8(value >> 24)
        bytes[offset + 1] = UInt8(value >> 16 & 0xFF)
        bytes[offset + 2] = UInt8(value >> 8 & 0xFF)
        bytes[offset + 3] = UInt8(value & 0xFF)
    }
}
