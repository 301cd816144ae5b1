import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// BEP 44 get and put message shapes, with the spec's test vector 2 (mutable, salt "foobar", seq 1).
@Suite struct KRPCItemMessageTests {
    typealias F = KRPCFixture

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    static let publicKey = hex("77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548")
    static let signature = hex(
        "6834284b6b24c3204eb2fea824d82f88883a3d95e8b4a21b8c0ded553d17d17d"
            + "df9a8a7104b1258f30bed3787e6cb896fca78c58f8e03b5f18f14951a87d9a08")
    static let target = NodeID(hex: "411eba73b6f087ca51a3795d9c8c938d365e32c1")!

    @Test func mutablePutHasTheBEP44Shape() throws {
        let put = PutArguments(
            token: F.bytes("tokn"), value: "Hello World!", publicKey: Self.publicKey, signature: Self.signature,
            seq: 1, salt: F.bytes("foobar"), cas: 0)
        #expect(put.isMutable)
        let message = KRPCMessage.query(.put(put), from: F.id("abcdefghij0123456789"), transactionID: F.bytes("pp"))
        let bytes = message.encoded()
        // Arguments in raw key order: cas, id, k, salt, seq, sig, token, v.
        let expected: [UInt8] =
            F.bytes("d1:ad3:casi0e2:id20:abcdefghij01234567891:k32:") + Self.publicKey
            + F.bytes("4:salt6:foobar3:seqi1e3:sig64:") + Self.signature
            + F.bytes("5:token4:tokn1:v12:Hello World!e1:q3:put1:t2:pp1:y1:qe")
        #expect(bytes == expected)
        #expect(try KRPCMessage.decode(bytes) == message)
    }

    @Test func immutablePutAndEmptySalt() throws {
        let immutable = PutArguments(token: [1, 2, 3, 4], value: "Hello World!")
        #expect(!immutable.isMutable)
        let message = KRPCMessage.query(.put(immutable), from: F.id(repeating: 1), transactionID: [1])
        let bytes = message.encoded()
        #expect(F.contains(bytes, F.bytes("1:v12:Hello World!e")))
        #expect(try KRPCMessage.decode(bytes) == message)

        // BEP 44: an empty salt equals no salt; it is left off the wire and read back as none.
        var salted = immutable
        salted.salt = []
        #expect(KRPCMessage.query(.put(salted), from: F.id(repeating: 1), transactionID: [1]).encoded() == bytes)
        let withEmptySalt = KRPCFixture.value([
            "t": "aa", "y": "q", "q": "put",
            "a": ["id": .bytes(F.id(repeating: 1).bytes), "token": "t", "v": "x", "salt": ""],
        ]).encoded()
        guard case .query(_, .put(let decoded)) = try KRPCMessage.decode(withEmptySalt).body else {
            Issue.record("expected a put")
            return
        }
        #expect(decoded.salt == nil)
    }

    @Test func putAcceptsAnItemUpToTheDatagramSize() throws {
        // The 1000-byte rule is the storage layer's (error 205); the codec carries whatever fits a datagram.
        let big = BencodeValue.bytes([UInt8](repeating: 0x61, count: 1_300))
        let message = KRPCMessage.query(
            .put(PutArguments(token: [1], value: big)), from: F.id(repeating: 2), transactionID: [3, 4])
        let bytes = message.encoded()
        #expect(bytes.count > 1_300 && bytes.count <= BencodeLimits.datagram.maxInputSize)
        #expect(try KRPCMessage.decode(bytes) == message)
    }

    @Test func getQueryWithAndWithoutSeq() throws {
        let plain = KRPCMessage.query(.get(target: Self.target, seq: nil), from: F.id(repeating: 1), transactionID: [1])
        let expectedPlain: [UInt8] =
            F.bytes("d1:ad2:id20:") + F.id(repeating: 1).bytes + F.bytes("6:target20:") + Self.target.bytes
            + F.bytes("e1:q3:get1:t1:") + [1] + F.bytes("1:y1:qe")
        #expect(plain.encoded() == expectedPlain)
        let withSeq = KRPCMessage.query(.get(target: Self.target, seq: 4), from: F.id(repeating: 1), transactionID: [1])
        #expect(F.contains(withSeq.encoded(), F.bytes("3:seqi4e6:target20:")))
        #expect(try KRPCMessage.decode(withSeq.encoded()) == withSeq)
        #expect(KRPCQuery.get(target: Self.target, seq: nil).method == "get")
        #expect(KRPCQuery.put(PutArguments(token: [], value: 0)).method == "put")
    }

    @Test func mutableGetReplyKeepsItemFields() throws {
        // Shaped like libtorrent's mutable get reply (k, nodes, p, seq, sig, token, v), with the vector 2 signature.
        let responder = F.id(repeating: 0x12)
        let node = NodeInfo(id: F.id(repeating: 0x13), endpoint: Endpoint(host: "10.1.2.3", port: 6881)!)
        let bytes: [UInt8] =
            F.bytes("d2:ip6:") + [10, 0, 0, 9, 0x1A, 0xE1] + F.bytes("1:rd2:id20:") + responder.bytes
            + F.bytes("1:k32:") + Self.publicKey + F.bytes("5:nodes26:") + node.compact
            + F.bytes("1:pi6881e3:seqi1e3:sig64:") + Self.signature
            + F.bytes("5:token4:tokn1:v12:Hello World!e1:t2:gg1:v4:LT") + [2, 0x11] + F.bytes("1:y1:re")
        let message = try F.decodeStable(bytes)
        let expected = KRPCResponse(
            id: responder, nodes: [node], token: F.bytes("tokn"), value: "Hello World!", publicKey: Self.publicKey,
            signature: Self.signature, seq: 1)
        #expect(message.body == .response(expected))
        #expect(message.requester == Endpoint(host: "10.0.0.9", port: 6881))
        #expect(message.version == F.bytes("LT") + [2, 0x11])
        // The item's bytes as signed: the canonical decoder guarantees re-encoding gives the sender's bytes.
        #expect(expected.value?.encoded() == F.bytes("12:Hello World!"))
    }

    @Test func responseKeepsOddKeyLengthsForTheVerifier() throws {
        // A reply's nodes stay useful even when its item is bad; the lookup layer rejects the item on verifying.
        let bytes = KRPCFixture.value([
            "t": "gg", "y": "r",
            "r": ["id": .bytes(F.id(repeating: 1).bytes), "k": "short", "sig": "bad", "seq": -1, "nodes": ""],
        ]).encoded()
        let message = try F.decodeStable(bytes)
        #expect(
            message.body
                == .response(
                    KRPCResponse(
                        id: F.id(repeating: 1), nodes: [], publicKey: F.bytes("short"), signature: F.bytes("bad"),
                        seq: -1)))
    }
}
