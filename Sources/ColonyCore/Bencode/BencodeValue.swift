/// One bencoded value (BEP 3): an integer, a byte string, a list, or a dictionary keyed by byte strings.
///
/// Byte strings stay raw bytes: KRPC carries binary node IDs, tokens and compact peer lists in them, so text is
/// only a view (`string`) over the bytes, never the stored form.
public enum BencodeValue: Sendable, Hashable {
    /// A signed integer; bencode allows any size, Colony accepts those that fit in 64 bits.
    case integer(Int64)
    /// A byte string, binary or text.
    case bytes([UInt8])
    /// An ordered list of values.
    case list([BencodeValue])
    /// A dictionary whose keys are byte strings, kept sorted by raw bytes and unique.
    case dictionary(BencodeDictionary)

    /// The integer, or nil when this is not an integer.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    /// The raw bytes of a byte string, or nil when this is not a byte string.
    public var bytes: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The byte string read as UTF-8 text, or nil when this is not a byte string or not valid UTF-8.
    public var string: String? {
        guard case .bytes(let value) = self else { return nil }
        return String(validating: value, as: UTF8.self)
    }

    /// The elements of a list, or nil when this is not a list.
    public var list: [BencodeValue]? {
        if case .list(let value) = self { return value }
        return nil
    }

    /// The dictionary, or nil when this is not a dictionary.
    public var dictionary: BencodeDictionary? {
        if case .dictionary(let value) = self { return value }
        return nil
    }

    /// The value stored under the UTF-8 bytes of `key`, or nil when this is not a dictionary or has no such key.
    public subscript(key: String) -> BencodeValue? {
        guard case .dictionary(let dictionary) = self else { return nil }
        return dictionary[key]
    }

    /// The value stored under the raw byte key `key`, or nil when this is not a dictionary or has no such key.
    public subscript(key: [UInt8]) -> BencodeValue? {
        guard case .dictionary(let dictionary) = self else { return nil }
        return dictionary[key]
    }

    /// The list element at `index`, or nil when this is not a list or `index` is out of range.
    public subscript(index: Int) -> BencodeValue? {
        guard case .list(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// A byte string holding the UTF-8 bytes of `text`.
    public static func text(_ text: String) -> BencodeValue {
        .bytes(Array(text.utf8))
    }
}
