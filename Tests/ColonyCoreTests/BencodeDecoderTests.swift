import Foundation
import Testing

@testable import ColonyCore

/// The error `text` decodes to, or nil when it decodes.
private func failure(_ text: String, limits: BencodeLimits = .datagram) -> BencodeError? {
    failure(Array(text.utf8), limits: limits)
}

private func failure(_ bytes: [UInt8], limits: BencodeLimits = .datagram) -> BencodeError? {
    do {
        _ = try BencodeDecoder(limits: limits).decode(bytes)
        return nil
    } catch {
        return error
    }
}

/// A refusal's kind and offset, compared as one.
private struct Refusal: Equatable {
    var code: BencodeError.Code
    var offset: Int

    init(_ code: BencodeError.Code, _ offset: Int) {
        self.code = code
        self.offset = offset
    }
}

private func refusal(_ text: String, limits: BencodeLimits = .datagram) -> Refusal? {
    refusal(Array(text.utf8), limits: limits)
}

private func refusal(_ bytes: [UInt8], limits: BencodeLimits = .datagram) -> Refusal? {
    failure(bytes, limits: limits).map { Refusal($0.code, $0.offset) }
}

private func decode(_ text: String, limits: BencodeLimits = .datagram) throws -> BencodeValue {
    try BencodeDecoder(limits: limits).decode(Array(text.utf8))
}

/// Messages from BEP 5's examples and a few larger ones, all canonical.
private let bencodeSampleMessages: [String] = [
    "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe",
    "d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re",
    "d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee",
    "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe",
    "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe",
    "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re",
    "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e"
        + "5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe",
    "d4:spaml1:a1:bee",
    "li-9223372036854775808ei0ei9223372036854775807elede0:e",
]

@Suite("Bencode decoder")
struct BencodeDecoderTests {
    @Test("BEP 3's examples decode to the values they name")
    func specExamples() throws {
        #expect(try decode("4:spam") == .bytes(Array("spam".utf8)))
        #expect(try decode("0:") == .bytes([]))
        #expect(try decode("i3e") == .integer(3))
        #expect(try decode("i-3e") == .integer(-3))
        #expect(try decode("i0e") == .integer(0))
        #expect(try decode("l4:spam4:eggse") == ["spam", "eggs"])
        #expect(try decode("d3:cow3:moo4:spam4:eggse") == ["cow": "moo", "spam": "eggs"])
        #expect(try decode("d4:spaml1:a1:bee") == ["spam": ["a", "b"]])
        #expect(try decode("le") == .list([]))
        #expect(try decode("de") == .dictionary(BencodeDictionary()))
    }

    @Test("A BEP 5 ping query decodes with its fields reachable by key")
    func krpcPing() throws {
        let query = try decode("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
        #expect(query["y"]?.string == "q")
        #expect(query["q"]?.string == "ping")
        #expect(query["t"]?.bytes == Array("aa".utf8))
        #expect(query["a"]?["id"]?.bytes == Array("abcdefghij0123456789".utf8))
        #expect(query["r"] == nil)
    }

    @Test("Int64's extremes decode; one past either end overflows at the digit that overflows")
    func integerRange() throws {
        #expect(try decode("i9223372036854775807e") == .integer(.max))
        #expect(try decode("i-9223372036854775808e") == .integer(.min))
        #expect(refusal("i9223372036854775808e") == Refusal(.integerOverflow, 19))
        #expect(refusal("i-9223372036854775809e") == Refusal(.integerOverflow, 20))
        #expect(failure("i99999999999999999999999e")?.code == .integerOverflow)
    }

    @Test("Keys order by raw unsigned bytes, a prefix before its extensions")
    func keyOrder() throws {
        let binary: [UInt8] =
            Array("d1:".utf8) + [0x00] + Array("0:1:".utf8) + [0x7F] + Array("0:1:".utf8) + [0xFF]
            + Array("0:e".utf8)
        let value = try BencodeDecoder().decode(binary)
        #expect(value.dictionary?.keys == [[0x00], [0x7F], [0xFF]])
        #expect(try decode("d1:a0:2:aa0:1:b0:e").dictionary?.count == 3)
        let unsortedBinary: [UInt8] = Array("d1:".utf8) + [0xFF] + Array("0:1:".utf8) + [0x00] + Array("0:e".utf8)
        #expect(refusal(unsortedBinary) == Refusal(.unsortedKey, 6))
    }

    @Test(
        "Non-canonical and malformed input is refused with its kind and offset",
        arguments: [
            ("i03e", BencodeError.Code.invalidInteger, 2),
            ("i00e", .invalidInteger, 2),
            ("i-0e", .invalidInteger, 2),
            ("i-03e", .invalidInteger, 2),
            ("ie", .invalidInteger, 1),
            ("i-e", .invalidInteger, 2),
            ("i+1e", .invalidInteger, 1),
            ("i 1e", .invalidInteger, 1),
            ("i1 e", .invalidInteger, 2),
            ("i1.5e", .invalidInteger, 2),
            ("i--1e", .invalidInteger, 2),
            ("i0x", .invalidInteger, 2),
            ("03:abc", .invalidStringLength, 1),
            ("00:", .invalidStringLength, 1),
            ("3abc", .invalidStringLength, 1),
            ("3-:abc", .invalidStringLength, 1),
            ("-3:abc", .unexpectedByte, 0),
            ("x", .unexpectedByte, 0),
            ("e", .unexpectedByte, 0),
            ("lxe", .unexpectedByte, 1),
            ("d1:b0:1:a0:e", .unsortedKey, 6),
            ("d2:ab0:1:a0:e", .unsortedKey, 7),
            ("d1:a0:1:a0:e", .duplicateKey, 6),
            ("d1:a0:1:c0:1:b0:e", .unsortedKey, 11),
            ("di1e0:e", .nonStringKey, 1),
            ("dle", .nonStringKey, 1),
            ("dde", .nonStringKey, 1),
            ("d1:ae", .missingValue, 4),
            ("ld1:ad1:ae0:ee", .missingValue, 9),
            ("i1ei2e", .trailingBytes, 3),
            ("0:0:", .trailingBytes, 2),
            ("le ", .trailingBytes, 2),
            ("de\n", .trailingBytes, 2),
            ("", .unexpectedEnd, 0),
            ("i12", .unexpectedEnd, 3),
            ("4:abc", .unexpectedEnd, 5),
            ("l", .unexpectedEnd, 1),
            ("li1e", .unexpectedEnd, 4),
            ("d1:a", .unexpectedEnd, 4),
            ("d1:a1:b", .unexpectedEnd, 7),
        ]
    )
    func rejection(input: String, code: BencodeError.Code, offset: Int) throws {
        let error = try #require(failure(input))
        #expect(error.code == code)
        #expect(error.offset == offset)
        #expect(error.description.hasPrefix("bencode: byte \(offset): "))
    }

    @Test("Errors name the rule and show hostile bytes as hex, never raw")
    func messages() throws {
        let leadingZero = try #require(failure("i03e"))
        #expect(leadingZero.message.contains("leading zero"))
        let control = try #require(failure([0x07]))
        #expect(control.message.contains("0x07"))
        #expect(!control.message.unicodeScalars.contains { $0.value < 0x20 })
        let tooLong = try #require(failure("9999:"))
        #expect(tooLong.message.contains("maxStringLength (1500 bytes)"))
    }

    @Test("Every proper prefix of a valid message is a truncation error at its end, for both entry points")
    func truncation() throws {
        for message in bencodeSampleMessages {
            let bytes = Array(message.utf8)
            #expect(throws: Never.self) { try BencodeDecoder().decode(bytes) }
            for length in 0..<bytes.count {
                let prefix = Array(bytes[..<length])
                let error = try #require(failure(prefix), "prefix \(length) of \(message) decoded")
                #expect(error.code == .unexpectedEnd && error.offset == length, "prefix \(length) of \(message)")
                #expect(throws: error) { try BencodeDecoder().decodePrefix(prefix) }
            }
        }
    }

    @Test("decodePrefix returns the value and its length, leaving what follows")
    func prefix() throws {
        let frame = Array("d1:ni3ee".utf8) + [0xDE, 0xAD, 0xBE, 0xEF]
        let (value, length) = try BencodeDecoder().decodePrefix(frame)
        #expect(value == ["n": 3])
        #expect(length == 8)
        let error = try #require(failure(frame))
        #expect(error.code == .trailingBytes && error.offset == 8)
    }

    @Test("Data, slices and non-contiguous sequences decode like arrays")
    func inputKinds() throws {
        let text = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"
        let expected = try decode(text)
        let decoder = BencodeDecoder()
        #expect(try decoder.decode(Data(text.utf8)) == expected)
        #expect(try decoder.decode(Array(("xx" + text).utf8)[2...]) == expected)
        #expect(try decoder.decode(text.utf8) == expected)
        #expect(try decoder.decode(AnySequence(Array(text.utf8))) == expected)
        #expect(try BencodeValue(decoding: Array(text.utf8)) == expected)
        let tooLarge = BencodeLimits(maxInputSize: 10)
        #expect(throws: BencodeError.inputTooLarge(limit: 10)) {
            try BencodeDecoder(limits: tooLarge).decode(AnySequence(Array(text.utf8)))
        }
    }
}

@Suite("Bencode decoder limits")
struct BencodeDecoderLimitTests {
    @Test("Input larger than maxInputSize is refused at the limit; decodePrefix bounds the value, not the buffer")
    func inputSize() throws {
        let limits = BencodeLimits(maxInputSize: 10)
        #expect(try decode("8:abcdefgh", limits: limits) == "abcdefgh")
        let error = try #require(failure("9:abcdefghi", limits: limits))
        #expect(error.code == .inputTooLarge && error.offset == 10)
        let decoder = BencodeDecoder(limits: limits)
        let short = try decoder.decodePrefix(Array("4:spam and more than ten bytes".utf8))
        #expect(short.value == "spam" && short.length == 6)
        #expect(throws: BencodeError.inputTooLarge(limit: 10)) {
            try decoder.decodePrefix(Array("20:abcdefghijklmnopqrst".utf8))
        }
        // A buffer that ends inside the window is truncated, not too large.
        #expect(throws: BencodeError.unexpectedEnd(at: 5)) { try decoder.decodePrefix(Array("8:abc".utf8)) }
    }

    @Test("Strings longer than maxStringLength are refused at their length, keys included")
    func stringLength() throws {
        let limits = BencodeLimits(maxStringLength: 4)
        #expect(try decode("4:spam", limits: limits) == "spam")
        #expect(refusal("5:spams", limits: limits) == Refusal(.stringTooLong, 0))
        #expect(refusal("l5:spamse", limits: limits) == Refusal(.stringTooLong, 1))
        #expect(refusal("d5:abcde0:e", limits: limits) == Refusal(.stringTooLong, 1))
    }

    @Test(
        "A huge declared length is refused from its digits alone, before any allocation",
        arguments: ["4611686018427387904:abc", "18446744073709551616:", String(repeating: "9", count: 400) + ":x"]
    )
    func hugeLength(input: String) throws {
        let widest = BencodeLimits(
            maxInputSize: BencodeLimits.sizeCeiling,
            maxStringLength: BencodeLimits.sizeCeiling,
            maxDepth: BencodeLimits.depthCeiling,
            maxElements: Int(Int32.max)
        )
        for limits in [BencodeLimits.datagram, .frame, widest] {
            let error = try #require(failure(input, limits: limits))
            #expect(error.code == .stringTooLong && error.offset == 0)
        }
        // At the ceiling itself the length is legal, and the missing bytes are a truncation.
        #expect(throws: BencodeError.unexpectedEnd(at: 12)) {
            try BencodeDecoder(limits: widest).decode(Array("1073741824:x".utf8))
        }
    }

    @Test("Nesting up to maxDepth decodes; one more level is refused at the opening byte")
    func depth() throws {
        let limits = BencodeLimits(maxDepth: 2)
        #expect(try decode("ld1:ai1eee", limits: limits) == [["a": 1]])
        #expect(refusal("llleee", limits: limits) == Refusal(.nestingTooDeep, 2))
        #expect(failure("ld1:adeee", limits: limits)?.code == .nestingTooDeep)
        let flat = BencodeLimits(maxDepth: 0)
        #expect(try decode("i7e", limits: flat) == 7)
        #expect(failure("le", limits: flat)?.code == .nestingTooDeep)
    }

    @Test("A hundred thousand open lists cost one error, not the stack")
    func deepNesting() throws {
        let opens = [UInt8](repeating: UInt8(ascii: "l"), count: 100_000)
        for depth in [BencodeLimits.datagram.maxDepth, BencodeLimits.frame.maxDepth] {
            let limits = BencodeLimits(maxInputSize: opens.count, maxDepth: depth, maxElements: opens.count)
            #expect(refusal(opens, limits: limits) == Refusal(.nestingTooDeep, depth))
        }
        // The deepest nesting validate() allows decodes, compares and re-encodes.
        let depth = BencodeLimits.depthCeiling
        let nested =
            [UInt8](repeating: UInt8(ascii: "l"), count: depth) + [UInt8](repeating: UInt8(ascii: "e"), count: depth)
        let limits = BencodeLimits(maxInputSize: nested.count, maxDepth: depth, maxElements: depth)
        let value = try BencodeDecoder(limits: limits).decode(nested)
        #expect(value.encoded() == nested)
        #expect(value == (try BencodeDecoder(limits: limits).decode(nested)))
    }

    @Test("More values and keys than maxElements are refused at the first one too many")
    func elements() throws {
        let limits = BencodeLimits(maxElements: 3)
        #expect(try decode("li1ei2ee", limits: limits) == [1, 2])
        #expect(refusal("li1ei2ei3ee", limits: limits) == Refusal(.tooManyElements, 7))
        #expect(try decode("d1:ai1ee", limits: limits) == ["a": 1])
        #expect(refusal("d1:ai1e1:bi2ee", limits: limits) == Refusal(.tooManyElements, 7))
    }

    @Test("The presets are valid; a field out of range is named, and the decoder refuses to run with it")
    func validation() throws {
        try BencodeLimits.datagram.validate()
        try BencodeLimits.frame.validate()
        let bad: [(BencodeLimits, String)] = [
            (BencodeLimits(maxInputSize: 0), "maxInputSize"),
            (BencodeLimits(maxStringLength: -1), "maxStringLength"),
            (BencodeLimits(maxStringLength: BencodeLimits.sizeCeiling + 1), "maxStringLength"),
            (BencodeLimits(maxDepth: BencodeLimits.depthCeiling + 1), "maxDepth"),
            (BencodeLimits(maxElements: 0), "maxElements"),
        ]
        for (limits, field) in bad {
            let error = try #require(failure("i1e", limits: limits))
            #expect(error.code == .invalidLimits)
            #expect(error.message.contains("BencodeLimits.\(field)"))
        }
    }

    @Test("The datagram preset takes any datagram that fits its size; elements never bind first")
    func datagramPreset() throws {
        let limits = BencodeLimits.datagram
        // The densest possible input: every value two bytes.
        let dense =
            Array("l".utf8) + Array(repeating: Array("le".utf8), count: (limits.maxInputSize - 2) / 2).joined()
            + Array("e".utf8)
        #expect(dense.count <= limits.maxInputSize)
        #expect(try BencodeDecoder(limits: limits).decode(dense).list?.count == (limits.maxInputSize - 2) / 2)
    }
}
