import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

@Suite struct KRPCMalformedTests {
    typealias F = KRPCFixture

    /// A query dictionary with `a` and `q` as given and t = "aa", assembled from canonical pieces.
    static func query(method: BencodeValue = "ping", arguments: BencodeValue?) -> [UInt8] {
        var top: BencodeDictionary = ["t": "aa", "y": "q", "q": method]
        top["a"] = arguments
        return BencodeValue.dictionary(top).encoded()
    }

    static let goodID = BencodeValue.bytes(KRPCFixture.bytes("abcdefghij0123456789"))
    static let otherID = BencodeValue.bytes(KRPCFixture.bytes("mnopqrstuvwxyz123456"))

    /// Malformed queries that still carry a valid t: each must fail as a query with that t, so the node answers 203.
    static let badQueries: [(String, [UInt8])] = [
        ("short id", query(arguments: ["id": "abcde"])),
        ("long id", query(arguments: ["id": .bytes([UInt8](repeating: 1, count: 21))])),
        ("id not a string", query(arguments: ["id": 5])),
        ("no id", query(arguments: ["target": otherID])),
        ("no a", query(arguments: nil)),
        ("a is a list", query(arguments: [goodID])),
        ("no q", KRPCFixture.value(["t": "aa", "y": "q", "a": ["id": goodID]]).encoded()),
        ("q is an integer", query(method: 7, arguments: ["id": goodID])),
        ("q is empty", query(method: "", arguments: ["id": goodID])),
        ("q is too long", query(method: .text(String(repeating: "m", count: 65)), arguments: ["id": goodID])),
        ("q has a control byte", query(method: .bytes([0x70, 0x0A]), arguments: ["id": goodID])),
        ("find_node without target", query(method: "find_node", arguments: ["id": goodID])),
        ("find_node short target", query(method: "find_node", arguments: ["id": goodID, "target": "abc"])),
        (
            "get_peers target in place of info_hash",
            query(method: "get_peers", arguments: ["id": goodID, "target": otherID])
        ),
        (
            "get_peers info_hash is a dict",
            query(method: "get_peers", arguments: ["id": goodID, "info_hash": ["x": 1]])
        ),
        (
            "announce port too large",
            query(
                method: "announce_peer",
                arguments: ["id": goodID, "info_hash": otherID, "port": 65536, "token": "tk"])
        ),
        (
            "announce negative port",
            query(method: "announce_peer", arguments: ["id": goodID, "info_hash": otherID, "port": -1, "token": "tk"])
        ),
        (
            "announce port as text",
            query(
                method: "announce_peer", arguments: ["id": goodID, "info_hash": otherID, "port": "6881", "token": "t"])
        ),
        (
            "announce without token",
            query(method: "announce_peer", arguments: ["id": goodID, "info_hash": otherID, "port": 1])
        ),
        (
            "announce implied_port as text",
            query(
                method: "announce_peer",
                arguments: ["id": goodID, "info_hash": otherID, "port": 1, "token": "t", "implied_port": "1"])
        ),
        ("get seq as text", query(method: "get", arguments: ["id": goodID, "target": otherID, "seq": "1"])),
        ("put without token", query(method: "put", arguments: ["id": goodID, "v": "x"])),
        ("put without v", query(method: "put", arguments: ["id": goodID, "token": "t"])),
        (
            "put short key",
            query(
                method: "put",
                arguments: [
                    "id": goodID, "token": "t", "v": "x", "k": .bytes([UInt8](repeating: 1, count: 31)),
                    "sig": .bytes([UInt8](repeating: 2, count: 64)), "seq": 1,
                ])
        ),
        (
            "put long signature",
            query(
                method: "put",
                arguments: [
                    "id": goodID, "token": "t", "v": "x", "k": .bytes([UInt8](repeating: 1, count: 32)),
                    "sig": .bytes([UInt8](repeating: 2, count: 65)), "seq": 1,
                ])
        ),
        (
            "put key without signature",
            query(
                method: "put",
                arguments: [
                    "id": goodID, "token": "t", "v": "x", "k": .bytes([UInt8](repeating: 1, count: 32)), "seq": 1,
                ])
        ),
        (
            "put key and signature without seq",
            query(
                method: "put",
                arguments: [
                    "id": goodID, "token": "t", "v": "x", "k": .bytes([UInt8](repeating: 1, count: 32)),
                    "sig": .bytes([UInt8](repeating: 2, count: 64)),
                ])
        ),
        ("put salt as integer", query(method: "put", arguments: ["id": goodID, "token": "t", "v": "x", "salt": 3])),
        ("put cas as text", query(method: "put", arguments: ["id": goodID, "token": "t", "v": "x", "cas": "3"])),
    ]

    @Test(arguments: badQueries) func malformedQueryIsAnswerable(_ name: String, _ bytes: [UInt8]) throws {
        let error = try #require(F.failure(bytes), "\(name) decoded")
        #expect(error.transactionID == F.bytes("aa"), "\(name)")
        #expect(error.isQuery, "\(name)")
        // The node's 203 reply echoes t and carries the reason.
        let reply = try #require(error.reply(requester: Endpoint(address: 0x0A00_0001, port: 6881)))
        #expect(reply.transactionID == F.bytes("aa"))
        #expect(reply.body == .error(KRPCError(code: KRPCErrorCode.protocolError, message: error.message)))
        #expect(try KRPCMessage.decode(reply.encoded()) == reply)
    }

    @Test func badIDMessageNamesTheField() throws {
        let error = try #require(F.failure(Self.query(arguments: ["id": "abcde"])))
        #expect(error.message == "'a.id' must be a 20-byte string; got a 5-byte string")
    }

    /// Inputs that fail before a t is known, or that are not queries: no reply is due.
    static let unanswerable: [(String, [UInt8], [UInt8]?)] = [
        ("truncated", Array(KRPCFixture.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q")), nil),
        ("unsorted keys", KRPCFixture.bytes("d1:t2:aa1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe"), nil),
        ("leading zero", KRPCFixture.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi01e1:t2:aa1:y1:qe"), nil),
        ("trailing bytes", KRPCFixture.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qex"), nil),
        ("empty", [], nil),
        ("a list", KRPCFixture.bytes("l1:t2:aae"), nil),
        ("no t", KRPCFixture.value(["y": "q", "q": "ping", "a": ["id": goodID]]).encoded(), nil),
        ("empty t", KRPCFixture.value(["t": "", "y": "q", "q": "ping", "a": ["id": goodID]]).encoded(), nil),
        ("integer t", KRPCFixture.value(["t": 1, "y": "q", "q": "ping", "a": ["id": goodID]]).encoded(), nil),
        (
            "17-byte t",
            KRPCFixture.value([
                "t": .bytes([UInt8](repeating: 7, count: 17)), "y": "q", "q": "ping", "a": ["id": goodID],
            ])
            .encoded(), nil
        ),
        ("no y", KRPCFixture.value(["t": "aa", "q": "ping", "a": ["id": goodID]]).encoded(), KRPCFixture.bytes("aa")),
        ("y is x", KRPCFixture.value(["t": "aa", "y": "x"]).encoded(), KRPCFixture.bytes("aa")),
        (
            "y is qq", KRPCFixture.value(["t": "aa", "y": "qq", "q": "ping", "a": ["id": goodID]]).encoded(),
            KRPCFixture.bytes("aa")
        ),
        ("response without r", KRPCFixture.value(["t": "aa", "y": "r"]).encoded(), KRPCFixture.bytes("aa")),
        (
            "response short id", KRPCFixture.value(["t": "aa", "y": "r", "r": ["id": "x"]]).encoded(),
            KRPCFixture.bytes("aa")
        ),
        (
            "response nodes of 27 bytes",
            KRPCFixture.value([
                "t": "aa", "y": "r", "r": ["id": otherID, "nodes": .bytes([UInt8](repeating: 0, count: 27))],
            ])
            .encoded(), KRPCFixture.bytes("aa")
        ),
        (
            "response values not a list",
            KRPCFixture.value(["t": "aa", "y": "r", "r": ["id": otherID, "values": "abcdef"]]).encoded(),
            KRPCFixture.bytes("aa")
        ),
        (
            "response token as integer",
            KRPCFixture.value(["t": "aa", "y": "r", "r": ["id": otherID, "token": 4]]).encoded(),
            KRPCFixture.bytes("aa")
        ),
        ("error without e", KRPCFixture.value(["t": "aa", "y": "e"]).encoded(), KRPCFixture.bytes("aa")),
        (
            "error code as text", KRPCFixture.value(["t": "aa", "y": "e", "e": ["201", "x"]]).encoded(),
            KRPCFixture.bytes("aa")
        ),
        ("error empty list", KRPCFixture.value(["t": "aa", "y": "e", "e": []]).encoded(), KRPCFixture.bytes("aa")),
    ]

    @Test(arguments: unanswerable) func unanswerableInput(_ name: String, _ bytes: [UInt8], _ t: [UInt8]?) throws {
        let error = try #require(F.failure(bytes), "\(name) decoded")
        #expect(error.transactionID == t, "\(name): \(error)")
        #expect(!error.isQuery, "\(name)")
        #expect(error.reply() == nil, "\(name)")
    }

    @Test func oversizedDatagramIsRefusedBeforeDecoding() throws {
        let ping = F.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
        let padded = ping.dropLast() + F.bytes("1:z1500:") + [UInt8](repeating: 0x41, count: 1500) + F.bytes("e")
        let error = try #require(F.failure(Array(padded)))
        #expect(error.transactionID == nil)
        #expect(error.message.contains("maxInputSize"))
    }

    @Test func deepNestingIsRefused() throws {
        let deep =
            F.bytes("d1:ad2:id20:abcdefghij01234567895:zdeep") + [UInt8](repeating: 0x6C, count: 40)
            + [UInt8](repeating: 0x65, count: 40) + F.bytes("e1:q4:ping1:t2:aa1:y1:qe")
        let error = try #require(F.failure(deep))
        #expect(error.message.contains("maxDepth"))
    }

    // MARK: Leniency where real clients differ

    @Test func unknownKeysAreIgnored() throws {
        let bytes = KRPCFixture.value([
            "t": "aa", "y": "q", "q": "get_peers", "zz": ["anything": [1, 2]],
            "a": ["id": Self.goodID, "info_hash": Self.otherID, "want": ["n4", "n6"], "noseed": 1, "scrape": 0],
        ]).encoded()
        let message = try KRPCMessage.decode(bytes)
        #expect(
            message.body
                == .query(senderID: F.id("abcdefghij0123456789"), .getPeers(infoHash: F.id("mnopqrstuvwxyz123456"))))
    }

    @Test func errorListVariants() throws {
        let nonUTF8 = KRPCFixture.value(["t": "aa", "y": "e", "e": [202, .bytes([0x6F, 0x6B, 0xFF, 0x21])]]).encoded()
        #expect(try KRPCMessage.decode(nonUTF8).body == .error(KRPCError(code: 202, message: "ok\u{FFFD}!")))
        let extra = KRPCFixture.value(["t": "aa", "y": "e", "e": [203, "bad", "more", 4]]).encoded()
        #expect(try KRPCMessage.decode(extra).body == .error(KRPCError(code: 203, message: "bad")))
        let codeOnly = KRPCFixture.value(["t": "aa", "y": "e", "e": [204]]).encoded()
        #expect(try KRPCMessage.decode(codeOnly).body == .error(KRPCError(code: 204, message: "")))
        // The lossy text survives its own round trip.
        _ = try F.decodeStable(nonUTF8)
    }

    @Test func valuesSkipEntriesAnIPv4NodeCannotUse() throws {
        let ipv6Peer = BencodeValue.bytes([0x20, 0x01] + [UInt8](repeating: 0, count: 14) + [0x1A, 0xE1])
        let bytes = KRPCFixture.value([
            "t": "aa", "y": "r",
            "r": ["id": Self.otherID, "values": [.bytes([10, 0, 0, 1, 0x1A, 0xE1]), ipv6Peer, 5, "short"]],
        ]).encoded()
        let message = try F.decodeStable(bytes)
        guard case .response(let response) = message.body else {
            Issue.record("expected a response, got \(message.body)")
            return
        }
        #expect(response.values == [Endpoint(host: "10.0.0.1", port: 6881)!])
    }

    @Test func methodNamesAreMatchedExactly() throws {
        let upper = try KRPCMessage.decode(Self.query(method: "PING", arguments: ["id": Self.goodID]))
        #expect(upper.body == .query(senderID: F.id("abcdefghij0123456789"), .unknown(method: "PING")))
        let longest = String(repeating: "m", count: KRPCMessage.maxMethodLength)
        let message = try KRPCMessage.decode(Self.query(method: .text(longest), arguments: ["id": Self.goodID]))
        #expect(message.body == .query(senderID: F.id("abcdefghij0123456789"), .unknown(method: longest)))
    }

    @Test func transactionIDLengthsOneToSixteenAreAccepted() throws {
        for length in 1...KRPCMessage.maxTransactionIDLength {
            let t = [UInt8](repeating: 0xEE, count: length)
            let message = KRPCMessage.query(.ping, from: F.id(repeating: 1), transactionID: t)
            #expect(try KRPCMessage.decode(message.encoded()).transactionID == t)
        }
    }
}
