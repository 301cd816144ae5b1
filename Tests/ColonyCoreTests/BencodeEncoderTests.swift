import Testing

@testable import ColonyCore

private func text(_ value: BencodeValue) -> String {
    String(decoding: value.encoded(), as: UTF8.self)
}

@Suite("Bencode encoder")
struct BencodeEncoderTests {
    @Test("BEP 3's examples encode to the bytes it gives")
    func specExamples() {
        #expect(text("spam") == "4:spam")
        #expect(text(.bytes([])) == "0:")
        #expect(text(3) == "i3e")
        #expect(text(-3) == "i-3e")
        #expect(text(0) == "i0e")
        #expect(text(["spam", "eggs"]) == "l4:spam4:eggse")
        #expect(text(["cow": "moo", "spam": "eggs"]) == "d3:cow3:moo4:spam4:eggse")
        #expect(text(["spam": ["a", "b"]]) == "d4:spaml1:a1:bee")
        #expect(text([]) == "le")
        #expect(text(.dictionary(BencodeDictionary())) == "de")
    }

    @Test("A BEP 5 announce_peer query built in any key order encodes as the spec's bytes")
    func krpcAnnounce() {
        let query: BencodeValue = [
            "y": "q",
            "t": "aa",
            "q": "announce_peer",
            "a": [
                "token": "aoeusnth",
                "port": 6881,
                "info_hash": "mnopqrstuvwxyz123456",
                "implied_port": 1,
                "id": "abcdefghij0123456789",
            ],
        ]
        #expect(
            text(query)
                == "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e"
                + "5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"
        )
    }

    @Test("Int64's extremes and multi-digit lengths encode exactly")
    func numbers() {
        #expect(text(.integer(.max)) == "i9223372036854775807e")
        #expect(text(.integer(.min)) == "i-9223372036854775808e")
        #expect(text(.integer(10)) == "i10e")
        #expect(text(.integer(-100)) == "i-100e")
        let long = BencodeValue.bytes([UInt8](repeating: 0x61, count: 1234))
        #expect(Array(long.encoded().prefix(5)) == Array("1234:".utf8))
        #expect(long.encodedCount == 1239)
    }

    @Test("Keys are written in raw-byte order: unsigned bytes, a prefix before its extensions")
    func keyOrder() {
        let pairs: [([UInt8], BencodeValue)] = [
            ([0xFF], 1), (Array("b".utf8), 2), (Array("aa".utf8), 3), (Array("a".utf8), 4), ([0x00], 5), ([], 6),
        ]
        let dictionary = BencodeDictionary(uniqueKeysWithValues: pairs)
        let expected =
            Array("d0:i6e1:".utf8) + [0x00] + Array("i5e1:ai4e2:aai3e1:bi2e1:".utf8) + [0xFF] + Array("i1ee".utf8)
        #expect(BencodeValue.dictionary(dictionary).encoded() == expected)
    }

    @Test("encode(into:) appends to what the buffer holds; encodedCount matches the bytes written")
    func appending() {
        var buffer = Array("header|".utf8)
        let value: BencodeValue = ["id": .bytes([UInt8](repeating: 9, count: 20)), "n": [-1, 0, 1_000_000, ""]]
        value.encode(into: &buffer)
        #expect(buffer.count == 7 + value.encodedCount)
        #expect(Array(buffer.dropFirst(7)) == value.encoded())
    }

    @Test("Equal values encode to equal bytes however they were built")
    func canonical() {
        var built = BencodeDictionary()
        built["z"] = 1
        built["a"] = 2
        built[[0x80]] = 3
        built["m"] = 4
        built["m"] = nil
        let pairs: [([UInt8], BencodeValue)] = [([0x80], 3), (Array("a".utf8), 2), (Array("z".utf8), 1)]
        let same = BencodeDictionary(uniqueKeysWithValues: pairs)
        #expect(built == same)
        #expect(BencodeValue.dictionary(built).encoded() == BencodeValue.dictionary(same).encoded())
    }
}
