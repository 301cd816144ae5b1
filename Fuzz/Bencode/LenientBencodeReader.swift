/// A forgiving reference reader for the fuzz target: it accepts every well-formed bencoding, canonical or not
/// (leading zeros, `-0`, keys in any order or repeated, last one wins). It is the oracle that catches the strict
/// decoder refusing canonical input: if this reader's value re-encodes to the very input, the strict decoder must
/// accept it. Written plainly and recursively, in a different shape from the decoder, so they do not share a bug.
struct LenientBencodeReader {
    /// What a value needs from `BencodeLimits` to be decoded.
    struct Shape {
        var depth = 0
        var elements = 0
        var longestString = 0

        func fits(_ limits: BencodeLimits, encodedCount: Int) -> Bool {
            depth <= limits.maxDepth && elements <= limits.maxElements && longestString <= limits.maxStringLength
                && encodedCount <= limits.maxInputSize
        }
    }

    private let input: UnsafeBufferPointer<UInt8>
    private var position = 0

    /// Reads the whole of `input` as one value, or nil when it is not well-formed bencode (or nests past 200).
    static func read(_ input: UnsafeBufferPointer<UInt8>) -> BencodeValue? {
        var reader = LenientBencodeReader(input: input)
        guard let value = reader.value(depth: 0), reader.position == input.count else { return nil }
        return value
    }

    private init(input: UnsafeBufferPointer<UInt8>) {
        self.input = input
    }

    private func peek() -> UInt8? {
        position < input.count ? input[position] : nil
    }

    private mutating func value(depth: Int) -> BencodeValue? {
        guard let byte = peek() else { return nil }
        switch byte {
        case UInt8(ascii: "i"):
            position += 1
            guard let text = digits(allowingMinus: true), peek() == UInt8(ascii: "e") else { return nil }
            position += 1
            return Int64(text).map(BencodeValue.integer)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return string().map(BencodeValue.bytes)
        case UInt8(ascii: "l"), UInt8(ascii: "d"):
            guard depth < 200 else { return nil }
            position += 1
            var elements: [BencodeValue] = []
            var pairs: [([UInt8], BencodeValue)] = []
            while peek() != UInt8(ascii: "e") {
                if byte == UInt8(ascii: "l") {
                    guard let element = value(depth: depth + 1) else { return nil }
                    elements.append(element)
                } else {
                    guard let key = string(), let element = value(depth: depth + 1) else { return nil }
                    pairs.append((key, element))
                }
            }
            position += 1
            if byte == UInt8(ascii: "l") { return .list(elements) }
            return .dictionary(BencodeDictionary(pairs, uniquingKeysWith: { _, later in later }))
        default:
            return nil
        }
    }

    /// One or more ASCII digits, optionally after a `-`, as text.
    private mutating func digits(allowingMinus: Bool) -> String? {
        var text = ""
        if allowingMinus, peek() == UInt8(ascii: "-") {
            text.append("-")
            position += 1
        }
        var count = 0
        while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            text.unicodeScalars.append(Unicode.Scalar(byte))
            position += 1
            count += 1
        }
        return count > 0 ? text : nil
    }

    private mutating func string() -> [UInt8]? {
        guard let text = digits(allowingMinus: false), peek() == UInt8(ascii: ":") else { return nil }
        position += 1
        guard let length = Int(text), length <= input.count - position else { return nil }
        defer { position += length }
        return Array(input[position..<(position + length)])
    }

    /// The depth, element count and longest string of `value`, as the decoder counts them.
    static func shape(of value: BencodeValue) -> Shape {
        var shape = Shape()
        measure(value, depth: 0, into: &shape)
        return shape
    }

    private static func measure(_ value: BencodeValue, depth: Int, into shape: inout Shape) {
        shape.elements += 1
        switch value {
        case .integer:
            break
        case .bytes(let bytes):
            shape.longestString = max(shape.longestString, bytes.count)
        case .list(let elements):
            shape.depth = max(shape.depth, depth + 1)
            for element in elements { measure(element, depth: depth + 1, into: &shape) }
        case .dictionary(let dictionary):
            shape.depth = max(shape.depth, depth + 1)
            for entry in dictionary {
                shape.elements += 1
                shape.longestString = max(shape.longestString, entry.key.count)
                measure(entry.value, depth: depth + 1, into: &shape)
            }
        }
    }
}
