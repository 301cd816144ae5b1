import ColonyCore
import ColonyNet
import Testing

@testable import ColonyDHT

/// One DHT node fed hand-built KRPC datagrams from fake 10.x endpoints (local, so BEP 42 leaves them alone),
/// with its replies decoded.
private final class MessageHarness {
    let node: DHTNode
    var now = Instant.seconds(1_000)
    private var nextTransaction: UInt16 = 0x4100

    init(configuration: DHTConfiguration = .init(), seed: UInt64 = 11) {
        var generator = SeededGenerator(seed: seed)
        node = DHTNode(id: .random(using: &generator), configuration: configuration, now: now)
    }

    /// What the node sent back for one incoming datagram: the reply to the sender (if any) and everything else.
    struct Exchange {
        var reply: KRPCMessage?
        var replyBytes: [UInt8]?
        var others: [Datagram]
        var all: [Datagram]
    }

    /// A fresh 2-byte transaction ID.
    func transactionID() -> [UInt8] {
        nextTransaction &+= 1
        return [UInt8(nextTransaction >> 8), UInt8(nextTransaction & 0xFF)]
    }

    /// Feeds raw bytes from `source`; the datagram to `source` that echoes `t` (when given) is the reply.
    func feed(_ bytes: [UInt8], from source: Endpoint, expecting transactionID: [UInt8]? = nil) -> Exchange {
        let out = node.receive(bytes, from: source, now: now)
        var exchange = Exchange(reply: nil, replyBytes: nil, others: [], all: out)
        for datagram in out {
            if exchange.reply == nil, datagram.endpoint == source,
                let message = try? KRPCMessage.decode(datagram.bytes),
                !message.isQuery, transactionID == nil || message.transactionID == transactionID
            {
                exchange.reply = message
                exchange.replyBytes = datagram.bytes
            } else {
                exchange.others.append(datagram)
            }
        }
        return exchange
    }

    /// Sends `query` from `sender` and returns what came back.
    func send(
        _ query: KRPCQuery, from sender: NodeInfo, version: [UInt8]? = nil, readOnly: Bool = false
    ) -> Exchange {
        let t = transactionID()
        let message = KRPCMessage.query(query, from: sender.id, transactionID: t, version: version, readOnly: readOnly)
        return feed(message.encoded(), from: sender.endpoint, expecting: t)
    }

    /// The reply's return values; records an issue when the reply is missing or not a response.
    func response(_ exchange: Exchange, sourceLocation: SourceLocation = #_sourceLocation) -> KRPCResponse? {
        guard let reply = exchange.reply else {
            Issue.record("no reply", sourceLocation: sourceLocation)
            return nil
        }
        guard case .response(let response) = reply.body else {
            Issue.record("expected a response, got \(reply.body)", sourceLocation: sourceLocation)
            return nil
        }
        return response
    }

    /// The write token `get` hands `sender` for `target`.
    func token(for target: NodeID, from sender: NodeInfo) -> [UInt8]? {
        response(send(.get(target: target, seq: nil), from: sender))?.token
    }

    /// The reply's error code, or nil when there was no error reply.
    func errorCode(_ exchange: Exchange) -> Int? {
        guard let reply = exchange.reply, case .error(let error) = reply.body else { return nil }
        return error.code
    }

    /// Answers every query in `datagrams` that went to `node`'s endpoint, as that node; returns how many.
    @discardableResult
    func answerQueries(in datagrams: [Datagram], as contact: NodeInfo) -> Int {
        var answered = 0
        for datagram in datagrams where datagram.endpoint == contact.endpoint {
            guard let message = try? KRPCMessage.decode(datagram.bytes), message.isQuery else { continue }
            let reply = KRPCMessage(transactionID: message.transactionID, body: .response(KRPCResponse(id: contact.id)))
            _ = node.receive(reply.encoded(), from: contact.endpoint, now: now)
            answered += 1
        }
        return answered
    }

    /// Makes the node hear from `contact` and verify it: a ping from it, then the answer to the node's check ping.
    func introduce(_ contact: NodeInfo) {
        let exchange = send(.ping, from: contact)
        answerQueries(in: exchange.others, as: contact)
    }
}

/// Requesters and contacts on 10.0.0.0/8, each with a seeded random ID.
private func fakeNodes(_ count: Int, seed: UInt64, base: UInt32 = 0x0A00_0100, port: UInt16 = 6881) -> [NodeInfo] {
    var generator = SeededGenerator(seed: seed)
    return (0..<count).map {
        NodeInfo(id: .random(using: &generator), endpoint: Endpoint(address: base + UInt32($0), port: port))
    }
}

@Suite struct DHTNodeMessageTests {
    let requester = NodeInfo(
        id: NodeID(SHA1.hash(Array("requester".utf8))), endpoint: Endpoint(host: "10.1.2.3", port: 40_000)!)

    // MARK: BEP 5

    @Test func pingAnswersWithIDRequesterAddressAndVersion() throws {
        let harness = MessageHarness()
        let exchange = harness.send(.ping, from: requester)
        let reply = try #require(exchange.reply)
        let response = try #require(harness.response(exchange))
        #expect(response.id == harness.node.id)
        #expect(response.nodes == nil && response.token == nil && response.values == nil)
        // BEP 42: the requester's address as the node saw it, at the top level.
        #expect(reply.requester == requester.endpoint)
        let top = try #require(BencodeValue(decoding: exchange.replyBytes!, limits: .datagram).dictionary)
        #expect(top["ip"]?.bytes == [10, 1, 2, 3, 0x9C, 0x40])
        #expect(top["r"]?["ip"] == nil)
        let version = try #require(reply.version)
        #expect(version.count == 4 && Array(version.prefix(2)) == Array("CO".utf8))
        #expect(harness.node.statistics.queriesReceived["ping"] == 1)
    }

    @Test func unknownSenderIsPingedOnceAndEntersTheTableWhenItAnswers() throws {
        let harness = MessageHarness()
        let first = harness.send(.ping, from: requester)
        let check = try #require(first.others.first)
        #expect(first.others.count == 1 && check.endpoint == requester.endpoint)
        let decoded = try KRPCMessage.decode(check.bytes)
        #expect(decoded.body == .query(senderID: harness.node.id, .ping))
        #expect(!decoded.readOnly)
        // A second query while the check is open does not ping again.
        #expect(harness.send(.ping, from: requester).others.isEmpty)
        #expect(!harness.node.table.contains(requester.id))
        #expect(harness.answerQueries(in: [check], as: requester) == 1)
        #expect(harness.node.table.contains(requester.id))
        #expect(harness.node.transactions.count == 0)
        // A node in the table is not checked again.
        #expect(harness.send(.ping, from: requester).others.isEmpty)
    }

    @Test func findNodeReturnsTheClosestNodesOfItsTable() throws {
        let harness = MessageHarness()
        let contacts = fakeNodes(60, seed: 3)
        for contact in contacts { harness.introduce(contact) }
        let table = harness.node.table.nodes
        #expect(table.count > 16)
        #expect(Set(table).isSubset(of: Set(contacts)))
        #expect(harness.node.transactions.count == 0)

        for target in [contacts[17].id, NodeID(SHA1.hash(Array("target".utf8))), harness.node.id] {
            let truth = table.sorted { target.isCloser($0.id, than: $1.id) }
            // Another client gets BEP 5's k = 8.
            let plain = try #require(harness.response(harness.send(.findNode(target: target), from: requester)))
            #expect(plain.id == harness.node.id)
            #expect(plain.nodes == Array(truth.prefix(8)))
            #expect(plain.token == nil)
            // A Colony node (top-level v = "CO…") gets 16.
            let colony = try #require(
                harness.response(
                    harness.send(.findNode(target: target), from: requester, version: Array("CO".utf8) + [0, 1])))
            #expect(colony.nodes == Array(truth.prefix(16)))
        }
        // An exact match comes first.
        let exact = try #require(harness.response(harness.send(.findNode(target: table[3].id), from: requester)))
        #expect(exact.nodes?.first == table[3])
    }

    @Test func findNodeOnAnEmptyTableAnswersWithNoNodes() throws {
        let harness = MessageHarness()
        let response = try #require(harness.response(harness.send(.findNode(target: .random()), from: requester)))
        #expect(response.nodes == [])
    }

    @Test func getPeersAnnouncePeerRoundTrip() throws {
        let harness = MessageHarness()
        for contact in fakeNodes(20, seed: 5) { harness.introduce(contact) }
        let infoHash = NodeID(SHA1.hash(Array("swarm".utf8)))

        let first = try #require(harness.response(harness.send(.getPeers(infoHash: infoHash), from: requester)))
        let token = try #require(first.token)
        #expect(!token.isEmpty)
        #expect(first.values == nil)
        let truth = harness.node.table.nodes.sorted { infoHash.isCloser($0.id, than: $1.id) }
        #expect(first.nodes == Array(truth.prefix(8)))

        // Bad token: 203, nothing stored.
        var bad = token
        bad[0] ^= 0xFF
        let refused = harness.send(
            .announcePeer(infoHash: infoHash, port: 6881, impliedPort: false, token: bad), from: requester)
        #expect(harness.errorCode(refused) == 203)
        #expect(refused.reply?.requester == requester.endpoint)
        let empty = harness.send(
            .announcePeer(infoHash: infoHash, port: 6881, impliedPort: false, token: []), from: requester)
        #expect(harness.errorCode(empty) == 203)
        // Port 0 without implied_port: 203.
        let zero = harness.send(
            .announcePeer(infoHash: infoHash, port: 0, impliedPort: false, token: token), from: requester)
        #expect(harness.errorCode(zero) == 203)
        #expect(harness.node.storage.peerCount == 0)

        // Good token: stored under the sender's address and the given port.
        let stored = try #require(
            harness.response(
                harness.send(
                    .announcePeer(infoHash: infoHash, port: 6881, impliedPort: false, token: token), from: requester)))
        #expect(stored.id == harness.node.id)
        #expect(stored.nodes == nil && stored.token == nil)
        let second = try #require(harness.response(harness.send(.getPeers(infoHash: infoHash), from: requester)))
        #expect(second.values == [Endpoint(address: requester.endpoint.address, port: 6881)])
        #expect(second.nodes?.count == 8)
        #expect(second.token != nil)

        // implied_port: the UDP source port wins over `port` (which may even be 0). The token is bound to the
        // address, so it also works from another port of the same host.
        let natted = NodeInfo(id: .random(), endpoint: Endpoint(address: requester.endpoint.address, port: 51_413))
        _ = try #require(
            harness.response(
                harness.send(.announcePeer(infoHash: infoHash, port: 0, impliedPort: true, token: token), from: natted))
        )
        let third = try #require(harness.response(harness.send(.getPeers(infoHash: infoHash), from: requester)))
        #expect(
            Set(third.values ?? []) == [
                Endpoint(address: requester.endpoint.address, port: 6881),
                Endpoint(address: requester.endpoint.address, port: 51_413),
            ])

        // A token is bound to the info-hash it was given for...
        let otherHash = NodeID(SHA1.hash(Array("another swarm".utf8)))
        let elsewhere = harness.send(
            .announcePeer(infoHash: otherHash, port: 7000, impliedPort: false, token: token), from: requester)
        #expect(harness.errorCode(elsewhere) == 203)
        // ...and to the address it was given to.
        let stranger = NodeInfo(id: .random(), endpoint: Endpoint(host: "10.9.9.9", port: 6881)!)
        let stolen = harness.send(
            .announcePeer(infoHash: infoHash, port: 7000, impliedPort: false, token: token), from: stranger)
        #expect(harness.errorCode(stolen) == 203)
        #expect(harness.node.storage.peerCount == 2)
        #expect(harness.node.storage.infoHashCount == 1)
        #expect(harness.node.statistics.errorsSent[203] == 5)
    }

    @Test func tokensOutliveOneRotationButNotTwo() throws {
        let harness = MessageHarness()
        let infoHash = NodeID(SHA1.hash(Array("rotation".utf8)))
        let token = try #require(harness.response(harness.send(.getPeers(infoHash: infoHash), from: requester))?.token)
        harness.now = harness.now.adding(seconds: TokenManager.rotationInterval + 1)
        _ = harness.node.tick(now: harness.now)
        let late = harness.send(
            .announcePeer(infoHash: infoHash, port: 1, impliedPort: false, token: token), from: requester)
        #expect(harness.response(late) != nil)
        harness.now = harness.now.adding(seconds: 2 * TokenManager.rotationInterval + 1)
        _ = harness.node.tick(now: harness.now)
        let stale = harness.send(
            .announcePeer(infoHash: infoHash, port: 2, impliedPort: false, token: token), from: requester)
        #expect(harness.errorCode(stale) == 203)
    }

    // MARK: BEP 44 immutable

    @Test func immutablePutAndGet() throws {
        let harness = MessageHarness()
        for contact in fakeNodes(12, seed: 9) { harness.introduce(contact) }
        let item = ImmutableItem(value: .bytes(Array("Hello World!".utf8)))
        // BEP 44 test vector 3.
        #expect(item.target.hex == "e5f96f6f38320f0f33959cb4d3d656452117aadb")

        let empty = try #require(harness.response(harness.send(.get(target: item.target, seq: nil), from: requester)))
        let token = try #require(empty.token)
        #expect(empty.value == nil && empty.seq == nil && empty.publicKey == nil)
        #expect(empty.nodes?.count == 8)

        // Bad token: 203.
        let forged = harness.send(
            .put(PutArguments(token: Array(token.reversed()), value: item.value)), from: requester)
        #expect(harness.errorCode(forged) == 203)
        // The token is bound to the target: it cannot write another item.
        let other = ImmutableItem(value: .text("something else"))
        let misused = harness.send(.put(PutArguments(token: token, value: other.value)), from: requester)
        #expect(harness.errorCode(misused) == 203)
        // Over 1000 bytes bencoded: 205 (1,001 bytes here; the datagram still fits the 1,500-byte limit).
        let big = BencodeValue.bytes([UInt8](repeating: 0x61, count: 996))
        #expect(big.encodedCount == 1_000)
        let bigger = BencodeValue.bytes([UInt8](repeating: 0x61, count: 997))
        let biggerToken = try #require(harness.token(for: ImmutableItem(value: bigger).target, from: requester))
        let tooBig = harness.send(.put(PutArguments(token: biggerToken, value: bigger)), from: requester)
        #expect(harness.errorCode(tooBig) == 205)
        #expect(harness.node.storage.itemCount == 0)
        // Exactly 1000 is fine.
        let bigToken = try #require(harness.token(for: ImmutableItem(value: big).target, from: requester))
        #expect(harness.response(harness.send(.put(PutArguments(token: bigToken, value: big)), from: requester)) != nil)

        let stored = try #require(
            harness.response(harness.send(.put(PutArguments(token: token, value: item.value)), from: requester)))
        #expect(stored.id == harness.node.id)
        #expect(harness.node.storage.itemCount == 2)

        let got = try #require(harness.response(harness.send(.get(target: item.target, seq: nil), from: requester)))
        #expect(got.value == item.value)
        #expect(got.token != nil && got.nodes?.count == 8)
        #expect(got.seq == nil && got.signature == nil && got.publicKey == nil)
        // Another requester reads it too, with its own token.
        let reader = NodeInfo(id: .random(), endpoint: Endpoint(host: "10.7.7.7", port: 1)!)
        let read = try #require(harness.response(harness.send(.get(target: item.target, seq: nil), from: reader)))
        #expect(read.value == item.value)
        #expect(read.token != got.token)
    }

    // MARK: BEP 44 mutable

    @Test func mutablePutGetAndEveryRefusal() throws {
        let harness = MessageHarness()
        let key = Ed25519PrivateKey()
        let salt = Array("colony".utf8)
        let first = MutableItem.signed(value: .text("first"), salt: salt, seq: 4, key: key)
        let target = first.target

        let token = try #require(harness.response(harness.send(.get(target: target, seq: nil), from: requester))?.token)
        func put(_ item: MutableItem, token: [UInt8] = token, cas: Int64? = nil) -> MessageHarness.Exchange {
            let arguments = PutArguments(
                token: token, value: item.value, publicKey: item.publicKey, signature: item.signature, seq: item.seq,
                salt: item.salt, cas: cas)
            return harness.send(.put(arguments), from: requester)
        }

        #expect(harness.errorCode(put(first, token: [1, 2, 3, 4])) == 203)
        #expect(harness.response(put(first)) != nil)
        #expect(harness.node.storage.mutable(target) == first)

        // get without seq: everything but the salt.
        let full = try #require(harness.response(harness.send(.get(target: target, seq: nil), from: requester)))
        #expect(full.publicKey == first.publicKey)
        #expect(full.signature == first.signature)
        #expect(full.seq == 4)
        #expect(full.value == first.value)
        #expect(full.token != nil)
        // get with an older seq: the item; with seq ≥ stored: only seq.
        let older = try #require(harness.response(harness.send(.get(target: target, seq: 3), from: requester)))
        #expect(older.value == first.value && older.seq == 4 && older.signature == first.signature)
        for seq: Int64 in [4, 5, .max] {
            let current = try #require(harness.response(harness.send(.get(target: target, seq: seq), from: requester)))
            #expect(current.seq == 4)
            #expect(current.value == nil && current.publicKey == nil && current.signature == nil)
            #expect(current.token != nil)
        }

        // 206: the signature does not cover this value.
        var tampered = first
        tampered.value = .text("forged")
        tampered.seq = 9
        #expect(harness.errorCode(put(tampered)) == 206)
        // 207: salt over 64 bytes (signed properly, so only the size is wrong).
        let salty = MutableItem.signed(value: .integer(1), salt: [UInt8](repeating: 7, count: 65), seq: 1, key: key)
        let saltyToken = try #require(harness.token(for: salty.target, from: requester))
        #expect(harness.errorCode(put(salty, token: saltyToken)) == 207)
        // 64 bytes is fine; the token of one salt does not write under another.
        let maxSalt = MutableItem.signed(value: .integer(1), salt: [UInt8](repeating: 7, count: 64), seq: 1, key: key)
        #expect(harness.errorCode(put(maxSalt, token: saltyToken)) == 203)
        let maxSaltToken = try #require(harness.token(for: maxSalt.target, from: requester))
        #expect(harness.response(put(maxSalt, token: maxSaltToken)) != nil)
        // 205: value over 1000 bytes, however well signed.
        let huge = MutableItem.signed(value: .bytes([UInt8](repeating: 1, count: 998)), salt: salt, seq: 10, key: key)
        #expect(harness.errorCode(put(huge)) == 205)
        // 301: cas differs from the stored seq.
        let next = MutableItem.signed(value: .text("second"), salt: salt, seq: 5, key: key)
        #expect(harness.errorCode(put(next, cas: 3)) == 301)
        // 302: lower seq; equal seq with another value.
        let lower = MutableItem.signed(value: .text("older"), salt: salt, seq: 3, key: key)
        #expect(harness.errorCode(put(lower)) == 302)
        let sameSeq = MutableItem.signed(value: .text("other"), salt: salt, seq: 4, key: key)
        #expect(harness.errorCode(put(sameSeq)) == 302)
        #expect(harness.node.storage.mutable(target) == first)
        // Equal seq and value: accepted (a republish), nothing changes.
        #expect(harness.response(put(first)) != nil)
        // cas equal to the stored seq: replaced.
        #expect(harness.response(put(next, cas: 4)) != nil)
        #expect(harness.node.storage.mutable(target) == next)
        let latest = try #require(harness.response(harness.send(.get(target: target, seq: 4), from: requester)))
        #expect(latest.seq == 5 && latest.value == .text("second"))
        #expect(harness.node.statistics.errorsSent == [203: 2, 205: 1, 206: 1, 207: 1, 301: 1, 302: 2])
    }

    @Test func mutablePutWithMissingParts() throws {
        let harness = MessageHarness()
        let key = Ed25519PrivateKey()
        let item = MutableItem.signed(value: .integer(7), salt: [], seq: 1, key: key)
        let token = try #require(
            harness.response(harness.send(.get(target: item.target, seq: nil), from: requester))?.token)
        // Negative seq: 203, even when signed.
        let negative = MutableItem.signed(value: .integer(7), salt: [], seq: -1, key: key)
        let arguments = PutArguments(
            token: token, value: negative.value, publicKey: negative.publicKey, signature: negative.signature,
            seq: negative.seq)
        #expect(harness.errorCode(harness.send(.put(arguments), from: requester)) == 203)
        // k and sig without seq never decode: 203 from the codec.
        var raw = BencodeDictionary()
        raw["id"] = .bytes(requester.id.bytes)
        raw["token"] = .bytes(token)
        raw["v"] = item.value
        raw["k"] = .bytes(item.publicKey)
        raw["sig"] = .bytes(item.signature)
        let bytes = topLevel(t: [9, 9], y: "q", q: "put", a: raw)
        #expect(harness.errorCode(harness.feed(bytes, from: requester.endpoint, expecting: [9, 9])) == 203)
        #expect(harness.node.storage.itemCount == 0)
    }

    // MARK: Errors and junk

    @Test func unknownMethodGets204() throws {
        let harness = MessageHarness()
        let exchange = harness.send(.unknown(method: "sample_infohashes"), from: requester)
        let reply = try #require(exchange.reply)
        guard case .error(let error) = reply.body else {
            Issue.record("expected an error, got \(reply.body)")
            return
        }
        #expect(error.code == 204)
        #expect(error.message.contains("sample_infohashes"))
        #expect(reply.requester == requester.endpoint)
        #expect(DHTConfiguration.isColony(reply.version))
    }

    @Test func manyUnknownMethodNamesDoNotGrowTheCounters() {
        let harness = MessageHarness()
        for index in 0..<500 {
            let exchange = harness.send(.unknown(method: "junk_\(index)"), from: requester)
            #expect(harness.errorCode(exchange) == 204)
        }
        // Hostile method names must not become dictionary keys one by one.
        #expect(harness.node.statistics.queriesReceived == [DHTNode.unknownMethodStatistic: 500])
        #expect(harness.node.statistics.errorsSent[204] == 500)
    }

    @Test(arguments: [
        // a.id of 5 bytes.
        "d1:ad2:id5:abcdee1:q4:ping1:t2:aa1:y1:qe",
        // find_node without target.
        "d1:ad2:id20:abcdefghij0123456789e1:q9:find_node1:t2:aa1:y1:qe",
        // target of the wrong type.
        "d1:ad2:id20:abcdefghij01234567896:targeti5ee1:q9:find_node1:t2:aa1:y1:qe",
        // no argument dictionary.
        "d1:q4:ping1:t2:aa1:y1:qe",
        // announce_peer with a port out of range.
        "d1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz1234564:porti70000e5:token4:abcde"
            + "1:q13:announce_peer1:t2:aa1:y1:qe",
        // 'a' is a list.
        "d1:ale1:q4:ping1:t2:aa1:y1:qe",
    ])
    func malformedQueryWithTransactionIDGets203(text: String) throws {
        let harness = MessageHarness()
        let exchange = harness.feed(Array(text.utf8), from: requester.endpoint)
        #expect(exchange.all.count == 1)
        let reply = try #require(exchange.reply)
        #expect(reply.transactionID == Array("aa".utf8))
        guard case .error(let error) = reply.body else {
            Issue.record("expected an error, got \(reply.body)")
            return
        }
        #expect(error.code == 203)
        #expect(reply.requester == requester.endpoint)
        #expect(harness.node.statistics.malformed == 1)
        #expect(harness.node.table.count == 0 && harness.node.transactions.count == 0)
    }

    @Test(arguments: [
        "",
        "garbage",
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:y1:qe",  // no t
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:ti5e1:y1:qe",  // t not a string
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t0:1:y1:qe",  // empty t
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t17:aaaaaaaaaaaaaaaaa1:y1:qe",  // t too long to echo
        "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:q",  // truncated
        "d1:t2:aa1:y1:qe1:q4:ping",  // trailing bytes after the dictionary
        "d1:t2:aa1:y1:rd2:id3:abcee",  // malformed response: no reply to responses
        "d1:t2:aa1:y1:xe",  // unknown y
        "d1:t2:aa1:y1:e1:eli201eee",  // error with no text that matches nothing
        "d1:t2:aa1:y99999999999999999999:qe",  // huge claimed string length
        "li1ei2ee",  // not a dictionary
        "d1:t2:aa1:y1:q1:t2:bbe",  // duplicate key
        "d1:y1:q1:t2:aae",  // keys out of order
    ])
    func junkWithoutUsableTransactionGetsNoReply(text: String) {
        let harness = MessageHarness()
        let out = harness.node.receive(Array(text.utf8), from: requester.endpoint, now: harness.now)
        #expect(out.isEmpty)
        #expect(harness.node.table.count == 0 && harness.node.transactions.count == 0)
    }

    // MARK: BEP 43

    @Test func readOnlySenderIsServedButNeitherPingedNorAdded() throws {
        let harness = MessageHarness()
        let exchange = harness.send(.ping, from: requester, readOnly: true)
        #expect(harness.response(exchange)?.id == harness.node.id)
        #expect(exchange.others.isEmpty)
        #expect(harness.node.transactions.count == 0)
        let find = harness.send(.findNode(target: requester.id), from: requester, readOnly: true)
        #expect(harness.response(find)?.nodes == [])
        #expect(find.others.isEmpty)
        #expect(!harness.node.table.contains(requester.id))
        // Even a read-only node that once answered is not added when it later queries with ro = 1; and a
        // read-only query from a node in the table does not refresh it either (BEP 43 asks only for the first).
        let contacts = fakeNodes(3, seed: 21)
        for contact in contacts { harness.introduce(contact) }
        #expect(harness.node.table.count == 3)
        let outsider = NodeInfo(id: .random(), endpoint: Endpoint(host: "10.44.0.1", port: 9)!)
        for _ in 0..<5 { _ = harness.send(.getPeers(infoHash: outsider.id), from: outsider, readOnly: true) }
        #expect(harness.node.table.count == 3)
        #expect(!harness.node.table.contains(outsider.id))
    }

    /// A node in the table that turns read-only (a peer that learned it is behind a NAT) leaves the table when it next
    /// queries with ro = 1 from the endpoint the table holds; the same ID from elsewhere evicts nothing.
    @Test func aNodeThatTurnsReadOnlyLeavesTheTable() throws {
        let harness = MessageHarness()
        let contacts = fakeNodes(3, seed: 23)
        for contact in contacts { harness.introduce(contact) }
        #expect(harness.node.table.count == 3)
        let impostor = NodeInfo(id: contacts[0].id, endpoint: Endpoint(host: "10.45.0.1", port: 9)!)
        _ = harness.send(.ping, from: impostor, readOnly: true)
        #expect(harness.node.table.contains(contacts[0].id), "an ID named from another endpoint evicts nothing")
        let exchange = harness.send(.findNode(target: .random()), from: contacts[0], readOnly: true)
        #expect(harness.response(exchange) != nil, "still served")
        #expect(!harness.node.table.contains(contacts[0].id))
        #expect(harness.node.table.count == 2)
        // Asked for nodes, this node no longer names it.
        let find = harness.send(.findNode(target: contacts[0].id), from: contacts[1])
        let named = try #require(harness.response(find)?.nodes)
        #expect(!named.isEmpty && !named.contains { $0.id == contacts[0].id })
    }

    @Test func readOnlyNodeAnswersNothingAndMarksItsQueries() throws {
        var configuration = DHTConfiguration()
        configuration.readOnly = true
        let harness = MessageHarness(configuration: configuration)
        #expect(harness.send(.ping, from: requester).all.isEmpty)
        #expect(harness.send(.findNode(target: .random()), from: requester).all.isEmpty)
        #expect(harness.send(.getPeers(infoHash: .random()), from: requester).all.isEmpty)
        #expect(harness.send(.get(target: .random(), seq: nil), from: requester).all.isEmpty)
        #expect(harness.send(.unknown(method: "vote"), from: requester).all.isEmpty)
        #expect(
            harness.feed(Array("d1:ad2:id5:abcdee1:q4:ping1:t2:aa1:y1:qe".utf8), from: requester.endpoint).all.isEmpty)
        #expect(harness.node.transactions.count == 0)

        // Its own queries carry ro = 1: a ping, a lookup, a bootstrap.
        var sent = harness.node.ping(requester.endpoint, now: harness.now) { _ in }
        sent += harness.node.bootstrap(from: [Endpoint(host: "10.5.5.5", port: 6881)!], now: harness.now)
        #expect(sent.count == 2)
        for datagram in sent {
            let message = try KRPCMessage.decode(datagram.bytes)
            #expect(message.isQuery)
            #expect(message.readOnly)
            let top = try #require(BencodeValue(decoding: datagram.bytes, limits: .datagram).dictionary)
            #expect(top["ro"] == .integer(1))
        }
        // It still uses answers to its own queries.
        let ping = try KRPCMessage.decode(sent[0].bytes)
        let answer = KRPCMessage(transactionID: ping.transactionID, body: .response(KRPCResponse(id: requester.id)))
        _ = harness.node.receive(answer.encoded(), from: requester.endpoint, now: harness.now)
        #expect(harness.node.statistics.responsesReceived == 1)
    }

    // MARK: Transactions

    @Test func responsesMatchingNoTransactionAreIgnored() throws {
        let harness = MessageHarness()
        let contact = NodeInfo(id: .random(), endpoint: Endpoint(host: "10.0.0.50", port: 6881)!)
        var result: PingResult?
        let out = harness.node.ping(contact.endpoint, now: harness.now) { result = $0 }
        let query = try KRPCMessage.decode(try #require(out.first).bytes)
        #expect(query.body == .query(senderID: harness.node.id, .ping))
        #expect(query.transactionID.count == 2)
        #expect(harness.node.transactions.count == 1)
        let t = query.transactionID
        func respond(_ transactionID: [UInt8], from source: Endpoint) -> [Datagram] {
            let message = KRPCMessage(transactionID: transactionID, body: .response(KRPCResponse(id: contact.id)))
            return harness.node.receive(message.encoded(), from: source, now: harness.now)
        }

        // Wrong transaction ID, right address.
        #expect(respond([t[0], t[1] &+ 1], from: contact.endpoint).isEmpty)
        // Right ID, wrong length.
        #expect(respond(t + [0], from: contact.endpoint).isEmpty)
        // Right ID, another host.
        #expect(respond(t, from: Endpoint(host: "10.0.0.51", port: 6881)!).isEmpty)
        // Right ID, same host, another port.
        #expect(respond(t, from: Endpoint(host: "10.0.0.50", port: 6882)!).isEmpty)
        // An error reply from elsewhere is ignored too.
        let forgedError = KRPCMessage(transactionID: t, body: .error(.generic("no")))
        #expect(
            harness.node.receive(forgedError.encoded(), from: Endpoint(host: "10.0.0.52", port: 1)!, now: harness.now)
                .isEmpty)
        #expect(harness.node.statistics.unmatched == 5)
        #expect(harness.node.statistics.responsesReceived == 0)
        #expect(result == nil)
        #expect(harness.node.transactions.count == 1)
        #expect(harness.node.table.count == 0)

        // The real answer closes it.
        #expect(respond(t, from: contact.endpoint).isEmpty)
        guard case .answered(let id, _, _)? = result else {
            Issue.record("ping did not complete: \(String(describing: result))")
            return
        }
        #expect(id == contact.id)
        #expect(harness.node.transactions.count == 0)
        #expect(harness.node.table.contains(contact.id))
        // A duplicate of it is now unmatched.
        #expect(respond(t, from: contact.endpoint).isEmpty)
        #expect(harness.node.statistics.unmatched == 6)
        #expect(harness.node.statistics.responsesReceived == 1)
    }

    @Test func errorReplyToAPingCompletesIt() throws {
        let harness = MessageHarness()
        let contact = Endpoint(host: "10.0.0.60", port: 6881)!
        var result: PingResult?
        let out = harness.node.ping(contact, now: harness.now) { result = $0 }
        let query = try KRPCMessage.decode(try #require(out.first).bytes)
        let error = KRPCMessage(transactionID: query.transactionID, body: .error(.protocolError("nope")))
        _ = harness.node.receive(error.encoded(), from: contact, now: harness.now)
        guard case .error(let received)? = result else {
            Issue.record("expected an error result, got \(String(describing: result))")
            return
        }
        #expect(received.code == 203)
        #expect(harness.node.statistics.errorsReceived == 1)
        #expect(harness.node.transactions.count == 0)
    }
}

/// A KRPC message built key by key, for shapes `KRPCMessage` cannot express.
private func topLevel(t: [UInt8], y: String, q: String, a: BencodeDictionary) -> [UInt8] {
    var top = BencodeDictionary()
    top["t"] = .bytes(t)
    top["y"] = .text(y)
    top["q"] = .text(q)
    top["a"] = .dictionary(a)
    return BencodeValue.dictionary(top).encoded()
}
