extension BencodeValue: ExpressibleByIntegerLiteral {
    /// An integer value from a literal: `let seq: BencodeValue = 42`.
    public init(integerLiteral value: Int64) {
        self = .integer(value)
    }
}

extension BencodeValue: ExpressibleByStringLiteral {
    /// A byte string holding the literal's UTF-8 bytes: `let query: BencodeValue = "ping"`.
    public init(stringLiteral value: String) {
        self = .bytes(Array(value.utf8))
    }
}

extension BencodeValue: ExpressibleByArrayLiteral {
    /// A list from a literal: `["a", 1]`.
    public init(arrayLiteral elements: BencodeValue...) {
        self = .list(elements)
    }
}

extension BencodeValue: ExpressibleByDictionaryLiteral {
    /// A dictionary from a literal with text keys: `["y": "q", "q": "ping"]`; keys must be unique.
    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        self = .dictionary(BencodeDictionary(uniqueKeysWithValues: elements.map { (Array($0.0.utf8), $0.1) }))
    }
}
