import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// Bytes, IDs and decoding shortcuts shared by the KRPC suites.
enum KRPCFixture {
    /// The UTF-8 bytes of `text`.
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// `value` itself: lets a dictionary literal be written where a call needs a `BencodeValue`.
    static func value(_ value: BencodeValue) -> BencodeValue { value }

    /// The ID whose 20 bytes are the UTF-8 of `text` (which must have 20 bytes), as in BEP 5's examples.
    static func id(_ text: String) -> NodeID { NodeID(bytes: bytes(text))! }

    /// An ID of twenty `byte`s.
    static func id(repeating byte: UInt8) -> NodeID { NodeID(bytes: [UInt8](repeating: byte, count: 20))! }

    /// True when `part` occurs somewhere in `bytes`.
    static func contains(_ bytes: [UInt8], _ part: [UInt8]) -> Bool {
        guard part.count <= bytes.count else { return false }
        return (0...(bytes.count - part.count)).contains { bytes[$0..<$0 + part.count].elementsEqual(part) }
    }

    /// The decode failure for `input`, or nil when it decodes.
    static func failure(_ input: [UInt8]) -> KRPCDecodeError? {
        do {
            _ = try KRPCMessage.decode(input)
            return nil
        } catch {
            return error
        }
    }

    /// Decodes `input`, then checks that encoding the message and decoding it again gives the same message.
    static func decodeStable(_ input: [UInt8]) throws -> KRPCMessage {
        let message = try KRPCMessage.decode(input)
        let again = try KRPCMessage.decode(message.encoded())
        #expect(again == message)
        return message
    }
}

@Suite struct KRPCMessageTests {
    typealias F = KRPCFixture

    // MARK: BEP 5's example messages, byte for byte

    @Test func bep5PingQueryAndResponse() throws {
        let query = F.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe")
        let decoded = try KRPCMessage.decode(query)
        #expect(decoded.transactionID == F.bytes("aa"))
        #expect(decoded.body == .query(senderID: F.id("abcdefghij0123456789"), .ping))
        #expect(decoded.version == nil && decoded.readOnly == false && decoded.requester == nil)
        #expect(decoded.encoded() == query)

        let response = F.bytes("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")
        let reply = try KRPCMessage.decode(response)
        #expect(reply.body == .response(KRPCResponse(id: F.id("mnopqrstuvwxyz123456"))))
        #expect(reply.encoded() == response)
    }

    @Test func bep5FindNodeQuery() throws {
        let query = F.bytes(
            "d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe")
        let decoded = try KRPCMessage.decode(query)
        #expect(
            decoded.body
                == .query(senderID: F.id("abcdefghij0123456789"), .findNode(target: F.id("mnopqrstuvwxyz123456"))))
        #expect(decoded.encoded() == query)
    }

    @Test func bep5PlaceholderNodesAreRefused() throws {
        // BEP 5's find_node and get_peers replies show "def456..." (9 bytes) where 26n bytes belong.
        for text in [
            "d1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re",
            "d1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re",
        ] {
            let error = try #require(F.failure(F.bytes(text)))
            #expect(error.transactionID == F.bytes("aa"))
            #expect(!error.isQuery)
            #expect(error.message.contains("r.nodes"))
            #expect(error.reply() == nil)
        }
    }

    @Test func bep5GetPeersQueryAndValuesReply() throws {
        let query = F.bytes(
            "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe")
        let decoded = try KRPCMessage.decode(query)
        #expect(
            decoded.body
                == .query(senderID: F.id("abcdefghij0123456789"), .getPeers(infoHash: F.id("mnopqrstuvwxyz123456"))))
        #expect(decoded.encoded() == query)

        let reply = F.bytes(
            "d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re")
        let response = try KRPCMessage.decode(reply)
        let expected = KRPCResponse(
            id: F.id("abcdefghij0123456789"),
            values: [Endpoint(compact: F.bytes("axje.u"))!, Endpoint(compact: F.bytes("idhtnm"))!],
            token: F.bytes("aoeusnth")
        )
        #expect(response.body == .response(expected))
        // "axje.u": a=0x61 x=0x78 j=0x6a e=0x65, port '.'=0x2e 'u'=0x75.
        #expect(expected.values?.first == Endpoint(address: 0x6178_6A65, port: 0x2E75))
        #expect(response.encoded() == reply)
    }

    @Test func bep5AnnouncePeerQueryAndReply() throws {
        let query = F.bytes(
            "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e"
                + "5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe")
        let decoded = try KRPCMessage.decode(query)
        let announce = KRPCQuery.announcePeer(
            infoHash: F.id("mnopqrstuvwxyz123456"), port: 6881, impliedPort: true, token: F.bytes("aoeusnth"))
        #expect(decoded.body == .query(senderID: F.id("abcdefghij0123456789"), announce))
        #expect(announce.method == "announce_peer")
        #expect(decoded.encoded() == query)

        let reply = F.bytes("d1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")
        #expect(try KRPCMessage.decode(reply).body == .response(KRPCResponse(id: F.id("mnopqrstuvwxyz123456"))))
    }

    @Test func bep5ErrorExample() throws {
        let bytes = F.bytes("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee")
        let decoded = try KRPCMessage.decode(bytes)
        #expect(decoded.body == .error(KRPCError(code: KRPCErrorCode.generic, message: "A Generic Error Ocurred")))
        #expect(decoded.encoded() == bytes)
    }

    // MARK: Top-level keys (BEP 5 v, BEP 42 ip, BEP 43 ro) and libtorrent's shapes

    @Test func libtorrentPingReplyKeepsIPAndVersionAndDropsP() throws {
        let id = [UInt8](repeating: 0x22, count: 20)
        let bytes: [UInt8] =
            F.bytes("d2:ip6:") + [0x7F, 0, 0, 1, 0xB7, 0x9A] + F.bytes("1:rd2:id20:") + id
            + F.bytes("1:pi47002ee1:t2:aa1:v4:LT") + [0x02, 0x11] + F.bytes("1:y1:re")
        let message = try F.decodeStable(bytes)
        #expect(message.requester == Endpoint(host: "127.0.0.1", port: 47002))
        #expect(message.version == F.bytes("LT") + [0x02, 0x11])
        #expect(message.body == .response(KRPCResponse(id: NodeID(bytes: id)!)))
        // libtorrent's undocumented r.p is not kept, so the re-encoding is shorter by "1:pi47002e".
        #expect(message.encoded().count == bytes.count - F.bytes("1:pi47002e").count)
    }

    @Test func libtorrentErrorWithReturnDictionaryIsAnError() throws {
        // libtorrent puts an r next to e; the kind is decided by y.
        let bytes: [UInt8] =
            F.bytes("d1:eli203e13:invalid tokene1:rd2:id20:") + [UInt8](repeating: 0x22, count: 20)
            + F.bytes("1:pi47002ee1:t2:ae1:y1:ee")
        let message = try F.decodeStable(bytes)
        #expect(message.body == .error(KRPCError(code: KRPCErrorCode.protocolError, message: "invalid token")))
    }

    @Test func readOnlyFlag() throws {
        let plain = KRPCMessage.query(.ping, from: F.id(repeating: 1), transactionID: [9])
        #expect(!F.contains(plain.encoded(), F.bytes("2:ro")))
        var readOnly = plain
        readOnly.readOnly = true
        let bytes = readOnly.encoded()
        #expect(F.contains(bytes, F.bytes("2:roi1e")))
        #expect(try KRPCMessage.decode(bytes).readOnly)
        // libtorrent treats any non-zero ro as set; zero and a wrong type are not set.
        let base = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:ro"
        #expect(try KRPCMessage.decode(F.bytes(base + "i7e1:t2:aa1:y1:qe")).readOnly)
        #expect(try !KRPCMessage.decode(F.bytes(base + "i0e1:t2:aa1:y1:qe")).readOnly)
        #expect(try !KRPCMessage.decode(F.bytes(base + "1:x1:t2:aa1:y1:qe")).readOnly)
    }

    @Test func requesterIPv6FormIsIgnored() throws {
        let bytes: [UInt8] =
            F.bytes("d2:ip18:") + [UInt8](repeating: 0x20, count: 18)
            + F.bytes("1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re")
        let message = try KRPCMessage.decode(bytes)
        #expect(message.requester == nil)
        #expect(message.body == .response(KRPCResponse(id: F.id("mnopqrstuvwxyz123456"))))
    }

    @Test func topLevelVersionAndItemValueStayApart() throws {
        let put = PutArguments(token: [1, 2, 3, 4], value: "Hello World!")
        let message = KRPCMessage.query(
            .put(put), from: F.id(repeating: 3), transactionID: [0, 1], version: F.bytes("CO") + [0, 1])
        let decoded = try KRPCMessage.decode(message.encoded())
        #expect(decoded == message)
        #expect(decoded.version == F.bytes("CO") + [0, 1])
        guard case .query(_, .put(let arguments)) = decoded.body else {
            Issue.record("expected a put, got \(decoded.body)")
            return
        }
        #expect(arguments.value == "Hello World!")
    }

    @Test func unknownMethodIsKept() throws {
        let bytes = F.bytes("d1:ad2:id20:abcdefghij01234567894:unit3:abce1:q8:co_lease1:t2:xy1:y1:qe")
        let message = try KRPCMessage.decode(bytes)
        #expect(message.body == .query(senderID: F.id("abcdefghij0123456789"), .unknown(method: "co_lease")))
        guard case .query(_, let query) = message.body else { return }
        #expect(query.method == "co_lease")
        #expect(KRPCError.methodUnknown(query.method).code == 204)
    }

    // MARK: Round trips

    static let sender = KRPCFixture.id(repeating: 0xA5)
    static let target = KRPCFixture.id(repeating: 0x5A)
    static let queries: [KRPCQuery] = [
        .ping,
        .findNode(target: target),
        .getPeers(infoHash: target),
        .announcePeer(infoHash: target, port: 6881, impliedPort: false, token: [1, 2, 3, 4]),
        .announcePeer(infoHash: target, port: 0, impliedPort: true, token: [0xFF]),
        .announcePeer(infoHash: target, port: 65535, impliedPort: false, token: []),
        .get(target: target, seq: nil),
        .get(target: target, seq: 0),
        .get(target: target, seq: Int64.max),
        .put(PutArguments(token: [9, 9], value: .list([1, "two", ["k": -3]]))),
        .put(
            PutArguments(
                token: [7], value: "v", publicKey: [UInt8](repeating: 1, count: 32),
                signature: [UInt8](repeating: 2, count: 64), seq: 5, salt: F.bytes("foobar"), cas: 4)),
        .unknown(method: "co_custody_sync"),
        .unknown(method: "sample_infohashes"),
    ]

    @Test(arguments: queries) func queryRoundTrip(_ query: KRPCQuery) throws {
        for readOnly in [false, true] {
            let message = KRPCMessage.query(
                query, from: Self.sender, transactionID: [0x12, 0x34], version: F.bytes("CO") + [0, 1],
                readOnly: readOnly)
            let bytes = message.encoded()
            let decoded = try KRPCMessage.decode(bytes)
            #expect(decoded == message)
            #expect(decoded.encoded() == bytes)
            #expect(try BencodeValue(decoding: bytes)["q"] == .text(query.method))
        }
    }

    static let responses: [KRPCResponse] = [
        KRPCResponse(id: sender),
        KRPCResponse(
            id: sender,
            nodes: (1...8).map {
                NodeInfo(
                    id: F.id(repeating: UInt8($0)), endpoint: Endpoint(address: 0x0A00_0000 | UInt32($0), port: 6881))
            }),
        KRPCResponse(id: sender, nodes: [], token: [1, 2, 3, 4]),
        KRPCResponse(
            id: sender, nodes: [],
            values: [Endpoint(address: 0xC0A8_0001, port: 1), Endpoint(address: 1, port: 65535)],
            token: [0xAB]),
        KRPCResponse(id: sender, values: []),
        KRPCResponse(
            id: sender, token: [5], value: "Hello World!", publicKey: [UInt8](repeating: 3, count: 32),
            signature: [UInt8](repeating: 4, count: 64), seq: 1),
        KRPCResponse(id: sender, token: [5], seq: 9),
    ]

    @Test(arguments: responses) func responseRoundTrip(_ response: KRPCResponse) throws {
        let message = KRPCMessage(
            transactionID: [0xBE, 0xEF], body: .response(response), requester: Endpoint(address: 0x0102_0304, port: 80))
        let bytes = message.encoded()
        let decoded = try KRPCMessage.decode(bytes)
        #expect(decoded == message)
        #expect(decoded.encoded() == bytes)
    }

    static let errors: [KRPCError] = [
        .generic("A Generic Error Ocurred"),
        .protocolError("invalid token"),
        .methodUnknown("co_x"),
        KRPCError(code: KRPCErrorCode.server, message: ""),
        KRPCError(code: KRPCErrorCode.messageTooBig, message: "message too big"),
        KRPCError(code: KRPCErrorCode.invalidSignature, message: "invalid signature"),
        KRPCError(code: KRPCErrorCode.saltTooBig, message: "salt too big"),
        KRPCError(code: KRPCErrorCode.casMismatch, message: "CAS mismatch"),
        KRPCError(code: KRPCErrorCode.sequenceTooLow, message: "old sequence number"),
        KRPCError(code: -1, message: "négatif ✓"),
    ]

    @Test(arguments: errors) func errorRoundTrip(_ error: KRPCError) throws {
        let message = KRPCMessage(
            transactionID: Array(0..<16), body: .error(error), version: F.bytes("LT") + [2, 0x11])
        let decoded = try KRPCMessage.decode(message.encoded())
        #expect(decoded == message)
    }

    @Test func errorCodesMatchTheBEPs() {
        #expect(
            [
                KRPCErrorCode.generic, KRPCErrorCode.server, KRPCErrorCode.protocolError, KRPCErrorCode.methodUnknown,
                KRPCErrorCode.messageTooBig, KRPCErrorCode.invalidSignature, KRPCErrorCode.saltTooBig,
                KRPCErrorCode.casMismatch, KRPCErrorCode.sequenceTooLow,
            ] == [201, 202, 203, 204, 205, 206, 207, 301, 302])
    }
}
