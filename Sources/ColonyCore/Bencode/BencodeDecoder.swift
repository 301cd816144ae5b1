/// Decodes canonical bencode only, within `limits`: the one encoding of each value, so that what was decoded
/// re-encodes to the same bytes and a signature over those bytes keeps meaning the same value.
///
/// Refused: keys out of raw-byte order or repeated, leading zeros (`i03e`, `03:abc`), `i-0e`, `ie`, `+`,
/// integers outside `Int64`, and anything the limits forbid. Limits are checked before allocating.
public struct BencodeDecoder: Sendable {
    /// The bounds on input size, string length, nesting depth and element count.
    public var limits: BencodeLimits

    /// A decoder with `limits`; `.datagram` suits KRPC, `.frame` suits TCP frames and manifests.
    public init(limits: BencodeLimits = .datagram) {
        self.limits = limits
    }

    /// Decodes `bytes`, which must hold exactly one value and nothing after it.
    public func decode(_ bytes: some Sequence<UInt8>) throws(BencodeError) -> BencodeValue {
        try run(bytes, whole: true).value
    }

    /// Decodes the value at the start of `bytes` and says how many bytes it took; what follows is left unread.
    /// `limits.maxInputSize` bounds the value, not the buffer.
    public func decodePrefix(_ bytes: some Sequence<UInt8>) throws(BencodeError) -> (value: BencodeValue, length: Int) {
        try run(bytes, whole: false)
    }

    private func run(
        _ bytes: some Sequence<UInt8>,
        whole: Bool
    ) throws(BencodeError) -> (value: BencodeValue, length: Int) {
        try limits.validate()
        if let result = bytes.withContiguousStorageIfAvailable({ parse($0, whole: whole) }) {
            return try result.get()
        }
        // Not contiguous: copy at most one byte past the limit, enough to know the input is too large.
        var copy: [UInt8] = []
        copy.reserveCapacity(min(bytes.underestimatedCount, limits.maxInputSize + 1))
        for byte in bytes {
            copy.append(byte)
            if copy.count > limits.maxInputSize { break }
        }
        return try copy.withUnsafeBufferPointer { parse($0, whole: whole) }.get()
    }

    private func parse(
        _ buffer: UnsafeBufferPointer<UInt8>,
        whole: Bool
    ) -> Result<(value: BencodeValue, length: Int), BencodeError> {
        if whole, buffer.count > limits.maxInputSize { return .failure(.inputTooLarge(limit: limits.maxInputSize)) }
        var parser = BencodeParser(buffer, limits: limits)
        do {
            let value = try parser.parseValue()
            if whole, parser.position < buffer.count {
                return .failure(.trailingBytes(count: buffer.count - parser.position, at: parser.position))
            }
            return .success((value, parser.position))
        } catch {
            return .failure(error)
        }
    }
}

extension BencodeValue {
    /// Decodes `bytes`, which must hold exactly one canonical value, within `limits`.
    public init(decoding bytes: some Sequence<UInt8>, limits: BencodeLimits = .datagram) throws(BencodeError) {
        self = try BencodeDecoder(limits: limits).decode(bytes)
    }
}
