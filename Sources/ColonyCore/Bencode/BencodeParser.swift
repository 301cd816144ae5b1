/// The strict, canonical-only bencode grammar over a byte buffer, without recursion: open lists and dictionaries
/// live on an explicit stack, so hostile nesting can cost at most `maxDepth` frames of heap, never the thread's stack.
struct BencodeParser {
    /// The bytes the parser may read: the input cut to `maxInputSize`.
    private let input: UnsafeBufferPointer<UInt8>
    /// The full input's length, to tell a truncated value from one that runs past `maxInputSize`.
    private let availableCount: Int
    private let limits: BencodeLimits
    /// The next byte to read.
    private(set) var position = 0
    private var elements = 0

    /// A parser over `input`, which must stay valid while the parser is used; `limits` must have passed `validate()`.
    init(_ input: UnsafeBufferPointer<UInt8>, limits: BencodeLimits) {
        availableCount = input.count
        self.input =
            input.count > limits.maxInputSize ? UnsafeBufferPointer(rebasing: input[..<limits.maxInputSize]) : input
        self.limits = limits
    }

    /// A list or dictionary being read, or the top level (which takes exactly one value).
    private struct Frame {
        enum Kind { case top, list, dictionary }

        var kind: Kind
        var items: [BencodeValue] = []
        var entries: [BencodeDictionary.Entry] = []
        /// A dictionary key read whose value has not been read yet.
        var pendingKey: [UInt8]?
        /// Where the previous key's bytes are in the input, for the order check without touching the heap.
        var previousKeyStart = 0
        var previousKeyCount = -1
    }

    /// Reads one value from `position`; on return `position` is just past it.
    mutating func parseValue() throws(BencodeError) -> BencodeValue {
        var parents: [Frame] = []
        var current = Frame(kind: .top)
        while true {
            guard position < input.count else { throw endError() }
            let byte = input[position]
            let value: BencodeValue
            if current.kind == .dictionary, current.pendingKey == nil {
                if byte == BencodeSyntax.end {
                    position += 1
                    value = .dictionary(BencodeDictionary(sortedUniqueEntries: current.entries))
                    current = parents.removeLast()
                } else if BencodeSyntax.isDigit(byte) {
                    try readKey(into: &current)
                    continue
                } else {
                    throw .nonStringKey(byte, at: position)
                }
            } else {
                switch byte {
                case BencodeSyntax.integerStart:
                    try countElement()
                    value = .integer(try readInteger())
                case BencodeSyntax.zero...BencodeSyntax.nine:
                    try countElement()
                    let range = try readString()
                    value = .bytes(Array(UnsafeBufferPointer(rebasing: input[range])))
                case BencodeSyntax.listStart, BencodeSyntax.dictionaryStart:
                    // `parents` holds the top frame plus every open container, so its count is the new depth.
                    guard parents.count < limits.maxDepth else {
                        throw .nestingTooDeep(limit: limits.maxDepth, at: position)
                    }
                    try countElement()
                    position += 1
                    parents.append(current)
                    current = Frame(kind: byte == BencodeSyntax.listStart ? .list : .dictionary)
                    continue
                case BencodeSyntax.end where current.kind == .list:
                    position += 1
                    value = .list(current.items)
                    current = parents.removeLast()
                case BencodeSyntax.end where current.kind == .dictionary:
                    throw .missingValue(at: position)
                default:
                    throw .unexpectedByte(byte, at: position)
                }
            }
            switch current.kind {
            case .top:
                return value
            case .list:
                current.items.append(value)
            case .dictionary:
                current.entries.append(BencodeDictionary.Entry(key: current.pendingKey!, value: value))
                current.pendingKey = nil
            }
        }
    }

    /// The error for running out of bytes: the value is truncated, or it runs past `maxInputSize`.
    func endError() -> BencodeError {
        if availableCount > input.count {
            return .inputTooLarge(limit: limits.maxInputSize)
        }
        return .unexpectedEnd(at: input.count)
    }

    private mutating func countElement() throws(BencodeError) {
        guard elements < limits.maxElements else { throw .tooManyElements(limit: limits.maxElements, at: position) }
        elements += 1
    }

    /// Reads a dictionary key and checks it sorts strictly after the previous one (BEP 3: sorted raw strings).
    private mutating func readKey(into frame: inout Frame) throws(BencodeError) {
        let keyStart = position
        try countElement()
        let range = try readString()
        let key = UnsafeBufferPointer(rebasing: input[range])
        if frame.previousKeyCount >= 0 {
            let previousRange = frame.previousKeyStart..<(frame.previousKeyStart + frame.previousKeyCount)
            let order = BencodeDictionary.compare(UnsafeBufferPointer(rebasing: input[previousRange]), key)
            if order == 0 { throw .duplicateKey(at: keyStart) }
            if order > 0 { throw .unsortedKey(at: keyStart) }
        }
        frame.previousKeyStart = range.lowerBound
        frame.previousKeyCount = range.count
        frame.pendingKey = Array(key)
    }

    /// Reads `<length>:<bytes>` from a digit and returns where the bytes are; the length is checked against the
    /// limit digit by digit, before anything is allocated, so `4611686018427387904:` costs nothing.
    private mutating func readString() throws(BencodeError) -> Range<Int> {
        let start = position
        var length = Int(input[position] &- BencodeSyntax.zero)
        position += 1
        if length == 0 {
            guard position < input.count else { throw endError() }
            if BencodeSyntax.isDigit(input[position]) {
                throw .invalidStringLength("has a leading zero; write 3:abc, not 03:abc", at: position)
            }
        }
        while position < input.count, BencodeSyntax.isDigit(input[position]) {
            // `length` never exceeds maxStringLength (at most 2^30) here, so this cannot overflow.
            length = length * 10 + Int(input[position] &- BencodeSyntax.zero)
            guard length <= limits.maxStringLength else {
                throw .stringTooLong(limit: limits.maxStringLength, at: start)
            }
            position += 1
        }
        guard length <= limits.maxStringLength else { throw .stringTooLong(limit: limits.maxStringLength, at: start) }
        guard position < input.count else { throw endError() }
        guard input[position] == BencodeSyntax.colon else {
            throw .invalidStringLength(
                "is followed by \(BencodeError.describe(input[position])); expected ':'", at: position)
        }
        position += 1
        guard length <= input.count - position else { throw endError() }
        let range = position..<(position + length)
        position += length
        return range
    }

    /// Reads `i<digits>e` from the `i`: an optional `-`, no leading zero, no `-0`, within `Int64`.
    private mutating func readInteger() throws(BencodeError) -> Int64 {
        position += 1
        guard position < input.count else { throw endError() }
        let negative = input[position] == BencodeSyntax.minus
        if negative {
            position += 1
            guard position < input.count else { throw endError() }
        }
        let first = input[position]
        guard BencodeSyntax.isDigit(first) else {
            throw .invalidInteger(
                "expects a digit here, found \(BencodeError.describe(first)); write i42e or i-42e", at: position)
        }
        if first == BencodeSyntax.zero {
            if negative { throw .invalidInteger("is negative zero; write i0e", at: position) }
            position += 1
            guard position < input.count else { throw endError() }
            guard input[position] == BencodeSyntax.end else {
                if BencodeSyntax.isDigit(input[position]) {
                    throw .invalidInteger("has a leading zero; write i3e, not i03e", at: position)
                }
                throw .invalidInteger(
                    "is followed by \(BencodeError.describe(input[position])); expected 'e'", at: position)
            }
            position += 1
            return 0
        }
        // Accumulate the magnitude so that Int64.min, whose magnitude Int64 cannot hold, parses too.
        let bound: UInt64 = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        var magnitude: UInt64 = 0
        while position < input.count, BencodeSyntax.isDigit(input[position]) {
            let digit = UInt64(input[position] &- BencodeSyntax.zero)
            guard magnitude <= (bound - digit) / 10 else { throw .integerOverflow(at: position) }
            magnitude = magnitude * 10 + digit
            position += 1
        }
        guard position < input.count else { throw endError() }
        guard input[position] == BencodeSyntax.end else {
            throw .invalidInteger(
                "is followed by \(BencodeError.describe(input[position])); expected 'e'", at: position)
        }
        position += 1
        return negative ? Int64(bitPattern: 0 &- magnitude) : Int64(magnitude)
    }
}
