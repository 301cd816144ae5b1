/// A bencode dictionary: byte-string keys kept sorted by raw bytes and unique, the only order BEP 3 allows.
///
/// Keeping the invariant in the type means encoding never sorts and two equal dictionaries always encode to the
/// same bytes, which signed manifests rely on.
public struct BencodeDictionary: Sendable, Hashable {
    /// One key and its value.
    public struct Entry: Sendable, Hashable {
        /// The key's raw bytes (binary node IDs are keys too, so not a `String`).
        public var key: [UInt8]
        /// The value stored under `key`.
        public var value: BencodeValue

        /// An entry holding `value` under `key`.
        public init(key: [UInt8], value: BencodeValue) {
            self.key = key
            self.value = value
        }
    }

    /// The entries, sorted ascending by raw key bytes, each key once.
    public private(set) var entries: [Entry]

    /// An empty dictionary.
    public init() {
        entries = []
    }

    /// A dictionary from key-value pairs in any order; traps when a key appears twice, like `Dictionary`.
    public init<Pairs: Sequence>(uniqueKeysWithValues pairs: Pairs) where Pairs.Element == ([UInt8], BencodeValue) {
        self.init(pairs) { _, _ in preconditionFailure("BencodeDictionary: duplicate key in uniqueKeysWithValues") }
    }

    /// A dictionary from key-value pairs in any order; `combine` merges the earlier and later values of a repeated key.
    public init<Pairs: Sequence>(
        _ pairs: Pairs,
        uniquingKeysWith combine: (BencodeValue, BencodeValue) throws -> BencodeValue
    ) rethrows where Pairs.Element == ([UInt8], BencodeValue) {
        // Sorting on (key, original position) keeps repeated keys in input order, so `combine` sees them in order.
        let sorted = pairs.enumerated().sorted { left, right in
            let order = Self.compare(left.element.0, right.element.0)
            return order != 0 ? order < 0 : left.offset < right.offset
        }
        var entries: [Entry] = []
        entries.reserveCapacity(sorted.count)
        for (_, (key, value)) in sorted {
            if let last = entries.last, last.key == key {
                entries[entries.count - 1].value = try combine(last.value, value)
            } else {
                entries.append(Entry(key: key, value: value))
            }
        }
        self.entries = entries
    }

    /// Wraps entries the caller has already checked to be sorted and unique (the decoder does this as it reads).
    init(sortedUniqueEntries entries: [Entry]) {
        self.entries = entries
    }

    /// The value under the raw byte key `key`; setting nil removes the key.
    public subscript(key: [UInt8]) -> BencodeValue? {
        get {
            let place = key.withUnsafeBufferPointer { position(of: $0) }
            return place.found ? entries[place.index].value : nil
        }
        set {
            let place = key.withUnsafeBufferPointer { position(of: $0) }
            store(newValue, key: key, at: place)
        }
    }

    /// The value under the UTF-8 bytes of `key`; setting nil removes the key.
    public subscript(key: String) -> BencodeValue? {
        get {
            var text = key
            let place = text.withUTF8 { position(of: $0) }
            return place.found ? entries[place.index].value : nil
        }
        set {
            var text = key
            let place = text.withUTF8 { position(of: $0) }
            store(newValue, key: Array(key.utf8), at: place)
        }
    }

    /// The keys in order.
    public var keys: [[UInt8]] {
        entries.map(\.key)
    }

    private mutating func store(_ value: BencodeValue?, key: [UInt8], at place: (found: Bool, index: Int)) {
        switch (value, place.found) {
        case (let value?, true): entries[place.index].value = value
        case (let value?, false): entries.insert(Entry(key: key, value: value), at: place.index)
        case (nil, true): entries.remove(at: place.index)
        case (nil, false): break
        }
    }

    /// Binary search: where `key` is, or where it would be inserted to keep the order.
    private func position(of key: UnsafeBufferPointer<UInt8>) -> (found: Bool, index: Int) {
        var low = 0
        var high = entries.count
        while low < high {
            let middle = low + (high - low) / 2
            let order = entries[middle].key.withUnsafeBufferPointer { Self.compare($0, key) }
            if order < 0 {
                low = middle + 1
            } else if order > 0 {
                high = middle
            } else {
                return (true, middle)
            }
        }
        return (false, low)
    }

    /// Three-way comparison of raw bytes, shorter-is-smaller on a common prefix: BEP 3's key order.
    static func compare(_ left: UnsafeBufferPointer<UInt8>, _ right: UnsafeBufferPointer<UInt8>) -> Int {
        let common = Swift.min(left.count, right.count)
        var index = 0
        while index < common {
            let a = left[index]
            let b = right[index]
            if a != b { return a < b ? -1 : 1 }
            index += 1
        }
        return left.count == right.count ? 0 : (left.count < right.count ? -1 : 1)
    }

    static func compare(_ left: [UInt8], _ right: [UInt8]) -> Int {
        left.withUnsafeBufferPointer { left in right.withUnsafeBufferPointer { right in compare(left, right) } }
    }
}

extension BencodeDictionary: RandomAccessCollection {
    /// The position of the first entry.
    public var startIndex: Int { entries.startIndex }
    /// The position past the last entry.
    public var endIndex: Int { entries.endIndex }
    /// The entry at `position`, in key order.
    public subscript(position: Int) -> Entry { entries[position] }
}

extension BencodeDictionary: ExpressibleByDictionaryLiteral {
    /// A dictionary from a literal with text keys; keys must be unique.
    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        self.init(uniqueKeysWithValues: elements.map { (Array($0.0.utf8), $0.1) })
    }
}
