import Testing

@testable import ColonyCore

@Suite("Bencode value")
struct BencodeValueTests {
    @Test("Each accessor answers only for its own kind")
    func accessors() {
        let integer: BencodeValue = 42
        let bytes: BencodeValue = "spam"
        let list: BencodeValue = [1, 2]
        let dictionary: BencodeValue = ["a": 1]
        #expect(integer.integer == 42 && integer.bytes == nil && integer.string == nil && integer.list == nil)
        #expect(bytes.bytes == Array("spam".utf8) && bytes.string == "spam" && bytes.integer == nil)
        #expect(list.list == [1, 2] && list.dictionary == nil)
        #expect(dictionary.dictionary?.count == 1 && dictionary.list == nil)
        #expect(BencodeValue.text("héllo").bytes == Array("héllo".utf8))
    }

    @Test("string is nil for bytes that are not UTF-8, such as a binary node ID")
    func strictText() {
        #expect(BencodeValue.bytes([0xC3, 0x28]).string == nil)
        #expect(BencodeValue.bytes([0xFF, 0x00, 0x01]).string == nil)
        #expect(BencodeValue.bytes([]).string == "")
    }

    @Test("Subscripts reach into dictionaries by text or raw key and into lists by index, nil when absent")
    func subscripts() {
        let nodeID: [UInt8] = [0x00, 0xFF, 0x10, 0x80]
        var arguments = BencodeDictionary()
        arguments[nodeID] = "binary key"
        arguments["id"] = .bytes(nodeID)
        let message: BencodeValue = ["a": .dictionary(arguments), "e": [201, "Generic"]]
        #expect(message["a"]?["id"]?.bytes == nodeID)
        #expect(message["a"]?[nodeID]?.string == "binary key")
        #expect(message["e"]?[0]?.integer == 201)
        #expect(message["e"]?[1]?.string == "Generic")
        #expect(message["e"]?[2] == nil)
        #expect(message["e"]?[-1] == nil)
        #expect(message["missing"] == nil)
        #expect(message[0] == nil)
        #expect(BencodeValue.integer(1)["a"] == nil)
    }

    @Test("Literals build the same values as the cases")
    func literals() {
        #expect((7 as BencodeValue) == .integer(7))
        #expect(("ab" as BencodeValue) == .bytes([0x61, 0x62]))
        #expect(([1, "x"] as BencodeValue) == .list([.integer(1), .bytes([0x78])]))
        let dictionary: BencodeValue = ["b": 1, "a": 2]
        #expect(dictionary.dictionary?.keys == [Array("a".utf8), Array("b".utf8)])
    }

    @Test("Setting keys keeps them sorted and unique; setting nil removes")
    func dictionaryEditing() {
        var dictionary = BencodeDictionary()
        for key in ["m", "c", "x", "a", "c", "mm", ""] {
            dictionary[key] = .text(key)
        }
        #expect(dictionary.keys.map { String(decoding: $0, as: UTF8.self) } == ["", "a", "c", "m", "mm", "x"])
        dictionary["c"] = nil
        dictionary["absent"] = nil
        #expect(dictionary.count == 5 && dictionary["c"] == nil && dictionary["mm"] == "mm")
        #expect(dictionary[0].key == [] && dictionary[dictionary.endIndex - 1].key == Array("x".utf8))
    }

    @Test("Repeated keys are merged in input order by the given rule")
    func uniquing() {
        let pairs: [([UInt8], BencodeValue)] = [([2], 1), ([1], 10), ([2], 2), ([2], 3)]
        let merged = BencodeDictionary(pairs) { earlier, later in
            .integer(earlier.integer! * 10 + later.integer!)
        }
        #expect(merged.entries == [.init(key: [1], value: 10), .init(key: [2], value: 123)])
    }

    @Test("description quotes printable text, escapes quotes, and shows other bytes as capped hex")
    func description() {
        let value: BencodeValue = [
            "id": .bytes([0x00, 0xAB]), "n": -5, "q": "say \"hi\"\\",
            "long": .bytes([UInt8](repeating: 0x07, count: 40)),
        ]
        let expected =
            "{\"id\": 0x00ab, \"long\": 0x" + String(repeating: "07", count: 32) + "…(40 bytes), \"n\": -5, "
            + "\"q\": \"say \\\"hi\\\"\\\\\"}"
        #expect(value.description == expected)
        #expect(BencodeValue.list([[], "a\n"]).description == "[[], 0x610a]")
    }
}
