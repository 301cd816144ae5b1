/// Why bencoded input was refused: what was wrong, in words, and the byte offset where decoding stopped.
///
/// The offset is that of the first byte that cannot belong to a canonical encoding (for `i03e`, the `3`), of the
/// start of the offending item (a string that is too long, a key out of order), or the input's length when it ends
/// too early. Callers add the peer or file: the codec does not know where the bytes came from.
public struct BencodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The input ends inside a value (truncated, or a length that runs past the end).
        case unexpectedEnd
        /// A byte that cannot start a value where a value is expected, such as `x` or a stray `e`.
        case unexpectedByte
        /// A malformed integer: no digits, a leading zero, `-0`, a sign other than `-`, or a missing `e`.
        case invalidInteger
        /// An integer outside the range of `Int64`.
        case integerOverflow
        /// A malformed string length: a leading zero, or no `:` after the digits.
        case invalidStringLength
        /// A dictionary key that is not a byte string.
        case nonStringKey
        /// A dictionary key that sorts before the previous key.
        case unsortedKey
        /// A dictionary key equal to the previous key.
        case duplicateKey
        /// A dictionary that ends after a key, before its value.
        case missingValue
        /// Bytes after a complete top-level value.
        case trailingBytes
        /// More input than `BencodeLimits.maxInputSize`.
        case inputTooLarge
        /// A string length above `BencodeLimits.maxStringLength`.
        case stringTooLong
        /// Lists and dictionaries nested deeper than `BencodeLimits.maxDepth`.
        case nestingTooDeep
        /// More values and keys than `BencodeLimits.maxElements`.
        case tooManyElements
        /// A `BencodeLimits` field out of its allowed range.
        case invalidLimits
    }

    /// The kind of failure.
    public var code: Code
    /// What was wrong and what canonical bencode expects there.
    public var message: String
    /// The byte offset in the input where decoding stopped.
    public var offset: Int

    /// An error of kind `code` at byte `offset`.
    public init(code: Code, message: String, offset: Int) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    /// "bencode: byte 12: …", for logs and for KRPC error 203 replies.
    public var description: String {
        "bencode: byte \(offset): \(message)"
    }
}

// Messages live here, beside the codes, so the parser reads as grammar and the wording is reviewed in one place.
extension BencodeError {
    static func unexpectedEnd(at offset: Int) -> BencodeError {
        BencodeError(
            code: .unexpectedEnd,
            message: "input ends inside a value; the message is truncated or a length runs past its end",
            offset: offset
        )
    }

    static func unexpectedByte(_ byte: UInt8, at offset: Int) -> BencodeError {
        BencodeError(
            code: .unexpectedByte,
            message: "\(describe(byte)) cannot start a value; expected i, l, d or a string length",
            offset: offset
        )
    }

    static func invalidInteger(_ problem: String, at offset: Int) -> BencodeError {
        BencodeError(code: .invalidInteger, message: "integer \(problem)", offset: offset)
    }

    static func integerOverflow(at offset: Int) -> BencodeError {
        BencodeError(
            code: .integerOverflow,
            message: "integer does not fit in 64 bits; values must lie in Int64's range",
            offset: offset
        )
    }

    static func invalidStringLength(_ problem: String, at offset: Int) -> BencodeError {
        BencodeError(code: .invalidStringLength, message: "string length \(problem)", offset: offset)
    }

    static func nonStringKey(_ byte: UInt8, at offset: Int) -> BencodeError {
        BencodeError(
            code: .nonStringKey,
            message: "dictionary key starts with \(describe(byte)); keys must be byte strings such as 2:id",
            offset: offset
        )
    }

    static func unsortedKey(at offset: Int) -> BencodeError {
        BencodeError(
            code: .unsortedKey,
            message: "dictionary key sorts before the previous key; canonical bencode sorts keys by raw bytes",
            offset: offset
        )
    }

    static func duplicateKey(at offset: Int) -> BencodeError {
        BencodeError(
            code: .duplicateKey,
            message: "dictionary key repeats the previous key; each key may appear once",
            offset: offset
        )
    }

    static func missingValue(at offset: Int) -> BencodeError {
        BencodeError(code: .missingValue, message: "dictionary ends after a key that has no value", offset: offset)
    }

    static func trailingBytes(count: Int, at offset: Int) -> BencodeError {
        BencodeError(
            code: .trailingBytes,
            message: "\(count) byte(s) follow the value; to read a value at the start of a longer buffer use "
                + "decodePrefix",
            offset: offset
        )
    }

    static func inputTooLarge(limit: Int) -> BencodeError {
        BencodeError(
            code: .inputTooLarge,
            message:
                "input runs past BencodeLimits.maxInputSize (\(limit) bytes); raise the limit only for trusted input",
            offset: limit
        )
    }

    static func stringTooLong(limit: Int, at offset: Int) -> BencodeError {
        BencodeError(
            code: .stringTooLong,
            message: "string length exceeds BencodeLimits.maxStringLength (\(limit) bytes)",
            offset: offset
        )
    }

    static func nestingTooDeep(limit: Int, at offset: Int) -> BencodeError {
        BencodeError(
            code: .nestingTooDeep,
            message: "lists and dictionaries nest deeper than BencodeLimits.maxDepth (\(limit))",
            offset: offset
        )
    }

    static func tooManyElements(limit: Int, at offset: Int) -> BencodeError {
        BencodeError(
            code: .tooManyElements,
            message: "more than BencodeLimits.maxElements (\(limit)) values and keys",
            offset: offset
        )
    }

    /// `0x41 'A'` for printable ASCII, `0x07` otherwise: hostile bytes must not reach a log as control characters.
    static func describe(_ byte: UInt8) -> String {
        let hex = "0x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        return (0x21...0x7E).contains(byte) ? "\(hex) '\(Character(Unicode.Scalar(byte)))'" : hex
    }
}
