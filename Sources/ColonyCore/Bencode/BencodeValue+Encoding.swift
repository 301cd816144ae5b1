extension BencodeValue {
    /// The canonical encoding: keys in raw-byte order (the dictionary keeps them so), no leading zeros.
    public func encoded() -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(encodedCount)
        encode(into: &output)
        return output
    }

    /// Appends the canonical encoding to `output`, for building a frame without intermediate arrays.
    public func encode(into output: inout [UInt8]) {
        switch self {
        case .integer(let value):
            output.append(BencodeSyntax.integerStart)
            if value < 0 { output.append(BencodeSyntax.minus) }
            Self.appendDecimal(value.magnitude, to: &output)
            output.append(BencodeSyntax.end)
        case .bytes(let bytes):
            Self.appendString(bytes, to: &output)
        case .list(let elements):
            output.append(BencodeSyntax.listStart)
            for element in elements { element.encode(into: &output) }
            output.append(BencodeSyntax.end)
        case .dictionary(let dictionary):
            output.append(BencodeSyntax.dictionaryStart)
            for entry in dictionary.entries {
                Self.appendString(entry.key, to: &output)
                entry.value.encode(into: &output)
            }
            output.append(BencodeSyntax.end)
        }
    }

    /// The length of `encoded()` in bytes, computed without encoding: whether a reply fits in one datagram.
    public var encodedCount: Int {
        switch self {
        case .integer(let value):
            return 2 + (value < 0 ? 1 : 0) + Self.decimalCount(value.magnitude)
        case .bytes(let bytes):
            return Self.decimalCount(UInt64(bytes.count)) + 1 + bytes.count
        case .list(let elements):
            return elements.reduce(2) { $0 + $1.encodedCount }
        case .dictionary(let dictionary):
            return dictionary.entries.reduce(2) { total, entry in
                total + Self.decimalCount(UInt64(entry.key.count)) + 1 + entry.key.count + entry.value.encodedCount
            }
        }
    }

    private static func appendString(_ bytes: [UInt8], to output: inout [UInt8]) {
        appendDecimal(UInt64(bytes.count), to: &output)
        output.append(BencodeSyntax.colon)
        output.append(contentsOf: bytes)
    }

    /// Appends the decimal digits of `value`, without going through `String`.
    private static func appendDecimal(_ value: UInt64, to output: inout [UInt8]) {
        if value < 10 {
            output.append(BencodeSyntax.zero + UInt8(value))
            return
        }
        let start = output.count
        var rest = value
        while rest > 0 {
            output.append(BencodeSyntax.zero + UInt8(rest % 10))
            rest /= 10
        }
        output[start...].reverse()
    }

    private static func decimalCount(_ value: UInt64) -> Int {
        var count = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }
}
