import Testing

@testable import ColonyCore

/// Random values shaped like real traffic: short keys from a small alphabet (so keys share prefixes and collide),
/// binary and text strings, integers at and near the edges, nesting up to `maxDepth`.
private struct ValueGenerator {
    var random: SplitMix64
    let maxDepth: Int

    mutating func value(depth: Int = 0) -> BencodeValue {
        let containers = depth < maxDepth
        switch Int.random(in: 0..<(containers ? 5 : 3), using: &random) {
        case 0: return .integer(integer())
        case 1, 2: return .bytes(bytes(maxLength: 24))
        case 3: return .list((0..<Int.random(in: 0...4, using: &random)).map { _ in value(depth: depth + 1) })
        default:
            let pairs = (0..<Int.random(in: 0...5, using: &random)).map { _ in (key(), value(depth: depth + 1)) }
            return .dictionary(BencodeDictionary(pairs, uniquingKeysWith: { _, later in later }))
        }
    }

    mutating func integer() -> Int64 {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: return [0, 1, -1, 9, 10, -10, .max, .min, .max - 1, .min + 1].randomElement(using: &random)!
        case 1: return Int64.random(in: -1000...1000, using: &random)
        default: return Int64(bitPattern: random.next()) >> UInt64.random(in: 0..<63, using: &random)
        }
    }

    mutating func bytes(maxLength: Int) -> [UInt8] {
        let count = Int.random(in: 0...maxLength, using: &random)
        if Bool.random(using: &random) {
            return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        return (0..<count).map { _ in UInt8.random(in: 0x61...0x66, using: &random) }
    }

    mutating func key() -> [UInt8] {
        let alphabet: [UInt8] = [0x00, 0x61, 0x62, 0x7F, 0x80, 0xFF]
        return (0..<Int.random(in: 0...3, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
    }
}

/// A forgiving reference reader: any well-formed bencoding, canonical or not (leading zeros, `-0`, keys in any
/// order or repeated, last wins). Written plainly and recursively, unlike the decoder, so the two do not share bugs.
private struct LenientReader {
    let input: [UInt8]
    var position = 0

    static func read(_ input: [UInt8]) -> BencodeValue? {
        var reader = LenientReader(input: input)
        guard let value = reader.value(depth: 0), reader.position == input.count else { return nil }
        return value
    }

    private var next: UInt8? { position < input.count ? input[position] : nil }

    private mutating func value(depth: Int) -> BencodeValue? {
        guard let byte = next, depth < 100 else { return nil }
        if byte == UInt8(ascii: "i") {
            position += 1
            guard let digits = number(signed: true), next == UInt8(ascii: "e") else { return nil }
            position += 1
            return Int64(digits).map(BencodeValue.integer)
        }
        if (0x30...0x39).contains(byte) { return string().map(BencodeValue.bytes) }
        guard byte == UInt8(ascii: "l") || byte == UInt8(ascii: "d") else { return nil }
        position += 1
        var elements: [BencodeValue] = []
        var pairs: [([UInt8], BencodeValue)] = []
        while next != UInt8(ascii: "e") {
            if byte == UInt8(ascii: "l") {
                guard let element = value(depth: depth + 1) else { return nil }
                elements.append(element)
            } else {
                guard let key = string(), let element = value(depth: depth + 1) else { return nil }
                pairs.append((key, element))
            }
        }
        position += 1
        return byte == UInt8(ascii: "l")
            ? .list(elements) : .dictionary(BencodeDictionary(pairs, uniquingKeysWith: { _, later in later }))
    }

    private mutating func number(signed: Bool) -> String? {
        var digits = ""
        if signed, next == UInt8(ascii: "-") {
            digits = "-"
            position += 1
        }
        let start = position
        while let byte = next, (0x30...0x39).contains(byte) {
            digits.unicodeScalars.append(Unicode.Scalar(byte))
            position += 1
        }
        return position > start ? digits : nil
    }

    private mutating func string() -> [UInt8]? {
        guard let digits = number(signed: false), next == UInt8(ascii: ":"), let length = Int(digits) else {
            return nil
        }
        position += 1
        guard length <= input.count - position else { return nil }
        defer { position += length }
        return Array(input[position..<(position + length)])
    }
}

private func outcome(_ bytes: [UInt8], _ decoder: BencodeDecoder) -> Result<BencodeValue, BencodeError> {
    do {
        return .success(try decoder.decode(bytes))
    } catch {
        return .failure(error)
    }
}

@Suite("Bencode properties")
struct BencodePropertyTests {
    /// Loose enough that generated values never meet a limit, so every refusal below is a grammar refusal.
    private let decoder = BencodeDecoder(
        limits: BencodeLimits(maxInputSize: 1 << 20, maxStringLength: 1 << 20, maxDepth: 64, maxElements: 1 << 20)
    )

    @Test("decode(encode(v)) == v for random values; prefix decoding ignores what follows", arguments: [1, 2, 3])
    func roundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(random: SplitMix64(seed: seed), maxDepth: 5)
        for round in 0..<1_000 {
            let value = generator.value()
            let bytes = value.encoded()
            #expect(bytes.count == value.encodedCount, "seed \(seed) round \(round)")
            let decoded = try decoder.decode(bytes)
            #expect(decoded == value, "seed \(seed) round \(round): \(value)")
            let trailer = generator.bytes(maxLength: 8)
            let prefix = try decoder.decodePrefix(bytes + trailer)
            #expect(prefix.value == value && prefix.length == bytes.count, "seed \(seed) round \(round)")
        }
    }

    @Test("Generated dictionaries keep keys strictly increasing by raw bytes", arguments: [4])
    func dictionaryInvariant(seed: UInt64) {
        var generator = ValueGenerator(random: SplitMix64(seed: seed), maxDepth: 1)
        var checked = 0
        for _ in 0..<2_000 {
            let pairs = (0..<Int.random(in: 0...12, using: &generator.random)).map { _ in
                (generator.key(), BencodeValue.integer(generator.integer()))
            }
            let dictionary = BencodeDictionary(pairs, uniquingKeysWith: { _, later in later })
            for (left, right) in zip(dictionary.keys, dictionary.keys.dropFirst()) {
                #expect(left.lexicographicallyPrecedes(right), "seed \(seed): \(left) before \(right)")
                checked += 1
            }
            #expect(Set(dictionary.keys) == Set(pairs.map(\.0)))
            for key in Set(pairs.map(\.0)) {
                #expect(dictionary[key] == pairs.last { $0.0 == key }?.1)
            }
        }
        #expect(checked > 1_000)
    }

    /// Mutations that keep the bytes close to bencode: syntax bytes, digits, copies of nearby bytes.
    private static func mutate(_ bytes: [UInt8], using random: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        let syntax = Array("ield:-0123456789".utf8) + [0x00, 0xFF, 0x20]
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] = syntax.randomElement(using: &random)!
            case 1: bytes.insert(syntax.randomElement(using: &random)!, at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.insert(contentsOf: bytes[position..<end], at: Int.random(in: 0...bytes.count, using: &random))
            case 4 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 5:
                // A zero before some digit: often a well-formed but non-canonical number or length.
                if let digit = bytes.indices.filter({ (0x30...0x39).contains(bytes[$0]) }).randomElement(using: &random)
                {
                    bytes.insert(UInt8(ascii: "0"), at: digit)
                }
            default: bytes.removeLast(Int.random(in: 0...min(2, bytes.count), using: &random))
            }
        }
        return bytes
    }

    @Test(
        "Mutated encodings decode only to values that re-encode to the same bytes; canonical ones always decode",
        arguments: [5, 6, 7]
    )
    func mutations(seed: UInt64) {
        var generator = ValueGenerator(random: SplitMix64(seed: seed), maxDepth: 4)
        var accepted = 0
        var refused = 0
        var refusedNonCanonical = 0
        for round in 0..<1_000 {
            let original = generator.value().encoded()
            let mutated = Self.mutate(original, using: &generator.random)
            let strict = outcome(mutated, decoder)
            let reference = LenientReader.read(mutated)
            switch strict {
            case .success(let value):
                accepted += 1
                #expect(value.encoded() == mutated, "seed \(seed) round \(round): not canonical")
                #expect(
                    reference == value, "seed \(seed) round \(round): reference reads \(String(describing: reference))")
            case .failure(let error):
                refused += 1
                #expect(error.offset >= 0 && error.offset <= mutated.count, "seed \(seed) round \(round)")
                if let reference {
                    // Well-formed but refused: only because it was not the canonical encoding of what it holds.
                    #expect(
                        reference.encoded() != mutated, "seed \(seed) round \(round): canonical input refused: \(error)"
                    )
                    refusedNonCanonical += 1
                }
            }
        }
        // The property must not hold vacuously: mutations land on both sides, including well-formed non-canonical.
        #expect(
            accepted > 50 && refused > 300 && refusedNonCanonical > 20, "\(accepted) \(refused) \(refusedNonCanonical)")
    }

    @Test("Reordering a dictionary's keys, padding a number with a zero or writing -0 is always refused")
    func nonCanonicalVariants() {
        var generator = ValueGenerator(random: SplitMix64(seed: 8), maxDepth: 0)
        for round in 0..<500 {
            let keys = Set((0..<4).map { _ in generator.key() }).sorted { $0.lexicographicallyPrecedes($1) }
            guard keys.count >= 2 else { continue }
            var swapped = keys
            let index = Int.random(in: 0..<(keys.count - 1), using: &generator.random)
            swapped.swapAt(index, index + 1)
            var bytes = Array("d".utf8)
            for key in swapped { bytes += BencodeValue.bytes(key).encoded() + Array("i0e".utf8) }
            bytes += Array("e".utf8)
            let error = outcome(bytes, decoder)
            #expect(error.failureCode == .unsortedKey, "round \(round)")

            let number = generator.integer()
            let padded =
                Array("i".utf8) + (number < 0 ? Array("-0".utf8) : Array("0".utf8))
                + Array(String(number.magnitude).utf8) + Array("e".utf8)
            #expect(outcome(padded, decoder).failureCode == .invalidInteger, "round \(round): \(number)")
            let text = BencodeValue.bytes(generator.bytes(maxLength: 10)).encoded()
            #expect(outcome([UInt8(ascii: "0")] + text, decoder).failureCode == .invalidStringLength, "round \(round)")
        }
        #expect(outcome(Array("i-0e".utf8), decoder).failureCode == .invalidInteger)
    }
}

extension Result<BencodeValue, BencodeError> {
    fileprivate var failureCode: BencodeError.Code? {
        if case .failure(let error) = self { return error.code }
        return nil
    }
}
