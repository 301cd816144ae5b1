import ColonyCore
import ColonyNet
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import ColonyDHT

/// Counts what comes back to one junk-sending socket.
private final class ReplyCounter: DatagramService, Sendable {
    struct Counts {
        var datagrams = 0
        var responses = 0
        var errors: [Int: Int] = [:]
        var queries = 0
        var undecodable = 0
    }

    let counts = Mutex(Counts())

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        let message = try? KRPCMessage.decode(bytes)
        counts.withLock { counts in
            counts.datagrams += 1
            switch message?.body {
            case .response?: counts.responses += 1
            case .error(let error)?: counts.errors[error.code, default: 0] += 1
            case .query?: counts.queries += 1
            case nil: counts.undecodable += 1
            }
        }
        return []
    }
    func tick(now: Instant) -> [Datagram] { [] }
    var nextDeadline: Instant? { nil }
}

/// The well-behaved peer: keeps the replies it gets by transaction ID and wakes whoever waits for one.
private final class Peer: DatagramService, Sendable {
    private let replies = Mutex<[[UInt8]: KRPCMessage]>([:])
    private let arrived = DispatchSemaphore(value: 0)

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        guard let message = try? KRPCMessage.decode(bytes), !message.isQuery else { return [] }
        replies.withLock { $0[message.transactionID] = message }
        arrived.signal()
        return []
    }
    func tick(now: Instant) -> [Datagram] { [] }
    var nextDeadline: Instant? { nil }

    /// Waits (generously) for the reply with `transactionID`; nil when none came.
    func reply(to transactionID: [UInt8], timeout seconds: Int = 10) -> KRPCMessage? {
        let deadline = DispatchTime.now() + .seconds(seconds)
        while true {
            if let message = replies.withLock({ $0.removeValue(forKey: transactionID) }) { return message }
            guard arrived.wait(timeout: deadline) == .success else {
                return replies.withLock { $0.removeValue(forKey: transactionID) }
            }
        }
    }
}

/// Makes hostile datagrams of many shapes from a seeded generator, so a failure reproduces.
private struct JunkFactory {
    var generator: SeededGenerator
    /// How many datagrams of each kind were made.
    var made: [String: Int] = [:]

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    private mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    private mutating func number(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &generator) }

    private mutating func id() -> [UInt8] { bytes(20) }

    /// A well-formed query of a random method, as a dictionary to spoil.
    private mutating func validQuery() -> BencodeDictionary {
        var arguments = BencodeDictionary()
        arguments["id"] = .bytes(id())
        let methods = ["ping", "find_node", "get_peers", "announce_peer", "get", "put"]
        let method = methods[number(0...methods.count - 1)]
        switch method {
        case "find_node": arguments["target"] = .bytes(id())
        case "get_peers": arguments["info_hash"] = .bytes(id())
        case "announce_peer":
            arguments["info_hash"] = .bytes(id())
            arguments["port"] = .integer(Int64(number(0...70_000)))
            arguments["token"] = .bytes(bytes(number(0...40)))
            if number(0...1) == 0 { arguments["implied_port"] = 1 }
        case "get":
            arguments["target"] = .bytes(id())
            if number(0...1) == 0 { arguments["seq"] = .integer(Int64(number(-5...5))) }
        case "put":
            arguments["token"] = .bytes(bytes(8))
            arguments["v"] = .bytes(bytes(number(0...1_100)))
            if number(0...1) == 0 {
                arguments["k"] = .bytes(bytes(32))
                arguments["sig"] = .bytes(bytes(64))
                arguments["seq"] = .integer(Int64(number(-2...1_000)))
                if number(0...1) == 0 { arguments["salt"] = .bytes(bytes(number(0...100))) }
                if number(0...2) == 0 { arguments["cas"] = .integer(Int64(number(0...3))) }
            }
        default: break
        }
        var top = BencodeDictionary()
        top["t"] = .bytes(bytes(2))
        top["y"] = "q"
        top["q"] = .text(method)
        top["a"] = .dictionary(arguments)
        if number(0...3) == 0 { top["v"] = .bytes(Array("CO".utf8) + bytes(2)) }
        if number(0...7) == 0 { top["ro"] = 1 }
        return top
    }

    /// A value of a random type, to put where another type belongs.
    private mutating func wrongValue() -> BencodeValue {
        switch number(0...4) {
        case 0: return .integer(Int64(number(-1_000_000...1_000_000)))
        case 1: return .bytes(bytes(number(0...60)))
        case 2: return .list([.integer(1), .bytes(bytes(3))])
        case 3: return .dictionary(BencodeDictionary())
        default: return .bytes(bytes(number(19...21)))
        }
    }

    /// One junk datagram.
    mutating func next() -> [UInt8] {
        let kind = number(0...13)
        func note(_ name: String) { made[name, default: 0] += 1 }
        switch kind {
        case 0:
            note("random bytes")
            return bytes(number(0...1_400))
        case 1:
            note("random bytes after 'd'")
            return [UInt8(ascii: "d")] + bytes(number(0...300))
        case 2:
            note("truncated query")
            let whole = BencodeValue.dictionary(validQuery()).encoded()
            return Array(whole.prefix(number(0...whole.count - 1)))
        case 3:
            note("query with a wrong field")
            var top = validQuery()
            if number(0...1) == 0, var arguments = top["a"]?.dictionary {
                let keys = [
                    "id", "target", "info_hash", "port", "token", "v", "k", "sig", "seq", "salt", "cas",
                    "implied_port",
                ]
                arguments[keys[number(0...keys.count - 1)]] = wrongValue()
                top["a"] = .dictionary(arguments)
            } else {
                let keys = ["t", "y", "q", "a", "v", "ro", "ip"]
                top[keys[number(0...keys.count - 1)]] = wrongValue()
            }
            return BencodeValue.dictionary(top).encoded()
        case 4:
            note("unknown method")
            var top = validQuery()
            let name = (0..<number(1...64)).map { _ in UInt8.random(in: 0x21...0x7E, using: &generator) }
            top["q"] = .bytes(name)
            return BencodeValue.dictionary(top).encoded()
        case 5:
            note("valid-looking query")
            return BencodeValue.dictionary(validQuery()).encoded()
        case 6:
            note("response with an unknown transaction")
            var values = BencodeDictionary()
            values["id"] = .bytes(id())
            if number(0...1) == 0 { values["nodes"] = .bytes(bytes(26 * number(0...16))) }
            if number(0...1) == 0 { values["token"] = .bytes(bytes(8)) }
            if number(0...3) == 0 { values["values"] = .list((0..<number(0...20)).map { _ in .bytes(bytes(6)) }) }
            var top = BencodeDictionary()
            top["t"] = .bytes(bytes(number(1...4)))
            top["y"] = "r"
            top["r"] = .dictionary(values)
            top["ip"] = .bytes(bytes(6))
            return BencodeValue.dictionary(top).encoded()
        case 7:
            note("error with an unknown transaction")
            var top = BencodeDictionary()
            top["t"] = .bytes(bytes(2))
            top["y"] = "e"
            top["e"] = .list([.integer(Int64(number(0...999))), .bytes(bytes(number(0...50)))])
            return BencodeValue.dictionary(top).encoded()
        case 8:
            note("huge claimed string length")
            let lengths = ["999999999", "4294967296", "18446744073709551616", "99999999999999999999999", "1501", "-5"]
            let prefix = Array("d1:ad2:id".utf8)
            return prefix + Array(lengths[number(0...lengths.count - 1)].utf8) + Array(":".utf8) + bytes(number(0...40))
        case 9:
            note("bad integer")
            let integers = ["i99999999999999999999999e", "i-0e", "i03e", "ie", "i-e", "i1", "i9223372036854775808e"]
            let text =
                "d1:ad2:id20:abcdefghij01234567894:port" + integers[number(0...integers.count - 1)]
                + "e1:q13:announce_peer1:t2:aa1:y1:qe"
            return Array(text.utf8)
        case 10:
            note("deep nesting")
            let depth = number(30...700)
            return [UInt8](repeating: UInt8(ascii: "l"), count: depth)
                + [UInt8](repeating: UInt8(ascii: "e"), count: depth)
        case 11:
            // As many values as 1,500 bytes can hold, in a list rather than a dictionary.
            note("many elements")
            return Array(("l" + String(repeating: "le", count: number(500...740)) + "e").utf8)
        case 12:
            note("oversized datagram")
            var top = validQuery()
            top["pad"] = .bytes(bytes(number(1_500...3_000)))
            return BencodeValue.dictionary(top).encoded()
        default:
            note("one byte flipped")
            var whole = BencodeValue.dictionary(validQuery()).encoded()
            let index = number(0...whole.count - 1)
            whole[index] = UInt8.random(in: 0...255, using: &generator)
            return whole
        }
    }
}

/// "key=value, …" sorted by key, for the summary line.
private func listed<Key: Comparable>(_ counts: [Key: Int]) -> String {
    counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
}

/// Resident memory of this process in bytes, from /proc/self/statm (Linux).
private func residentBytes() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

@Suite(.serialized) struct DHTJunkTests {
    static let junkCount = 50_000

    @Test func junkFloodLeavesTheNodeServingAndSmall() throws {
        // The node on 127.0.0.1. The per-address limit is raised well above the default (100/s) so that most of
        // the junk reaches the DHT node, which is what this test is about; 127.0.0.9 still sends more than it.
        var udp = UDPConfiguration(host: "127.0.0.1", port: 0)
        udp.rateLimit = RateLimit(datagramsPerSecond: 1_000, burst: 4_000)
        var generator = SeededGenerator(seed: 42)
        let node = DHTNode(id: .random(using: &generator), now: .monotonicNow())
        let runtime = UDPRuntime(service: node, configuration: udp)
        try runtime.start()
        defer { runtime.stop() }
        let target = runtime.localEndpoint

        // Junk comes from eight sockets on eight loopback addresses; the flooder (127.0.0.9) sends the most.
        let counters = (0..<8).map { _ in ReplyCounter() }
        // Their own runtimes must neither refuse to send the oversized junk nor rate-limit the node's replies.
        let senders = (0..<8).map { index in
            var configuration = UDPConfiguration(host: "127.0.0.\(index + 2)", port: 0)
            configuration.maxDatagramSize = 65_507
            configuration.rateLimit = nil
            return UDPRuntime(service: counters[index], configuration: configuration)
        }
        for sender in senders { try sender.start() }
        defer { for sender in senders { sender.stop() } }
        let perRound = [6, 6, 6, 6, 6, 6, 6, 22]

        let peer = Peer()
        // Hundreds of answers come back from one address: the peer's own limiter must not drop them.
        var peerConfiguration = UDPConfiguration(host: "127.0.0.1", port: 0)
        peerConfiguration.rateLimit = nil
        let peerRuntime = UDPRuntime(service: peer, configuration: peerConfiguration)
        try peerRuntime.start()
        defer { peerRuntime.stop() }
        let peerID = NodeID(SHA1.hash(Array("well-behaved peer".utf8)))
        var nextT: UInt16 = 0
        func ask(_ query: KRPCQuery, readOnly: Bool) -> KRPCMessage? {
            nextT &+= 1
            let t = [UInt8(nextT >> 8), UInt8(nextT & 0xFF)]
            let message = KRPCMessage.query(
                query, from: peerID, transactionID: t, version: Array("CO".utf8) + [0, 1], readOnly: readOnly)
            peerRuntime.sync { _, _ in ((), [Datagram(message.encoded(), to: target)]) }
            return peer.reply(to: t)
        }

        let rssBefore = try #require(residentBytes())
        var factory = JunkFactory(seed: 2026)
        var sent = 0
        var rounds = 0
        var unansweredMarkers = 0
        while sent < Self.junkCount {
            for (index, sender) in senders.enumerated() {
                let count = min(perRound[index], Self.junkCount - sent)
                guard count > 0 else { break }
                let batch = (0..<count).map { _ in Datagram(factory.next(), to: target) }
                sender.sync { _, _ in ((), batch) }
                sent += count
            }
            rounds += 1
            // A read-only ping after each round: the node's socket is read in order, so once it is answered the
            // round has been read, and the next round does not overrun the socket's receive buffer. Read-only, so
            // the peer stays out of the table until the real check below.
            if ask(.ping, readOnly: true) == nil {
                unansweredMarkers += 1
                if unansweredMarkers > 3 { break }
            }
        }
        #expect(sent == Self.junkCount)
        #expect(unansweredMarkers == 0)

        // The well-behaved peer is served: ping, then get_peers, announce_peer and get_peers again.
        let pong = try #require(ask(.ping, readOnly: false))
        guard case .response(let response) = pong.body else {
            Issue.record("ping after the flood got \(pong.body)")
            return
        }
        #expect(response.id == node.id)
        #expect(pong.requester == peerRuntime.localEndpoint)
        #expect(DHTConfiguration.isColony(pong.version))
        let infoHash = NodeID(SHA1.hash(Array("after the flood".utf8)))
        let first = try #require(ask(.getPeers(infoHash: infoHash), readOnly: false))
        guard case .response(let peers) = first.body, let token = peers.token else {
            Issue.record("get_peers after the flood got \(first.body)")
            return
        }
        let announce = try #require(
            ask(.announcePeer(infoHash: infoHash, port: 0, impliedPort: true, token: token), readOnly: false))
        guard case .response = announce.body else {
            Issue.record("announce_peer after the flood got \(announce.body)")
            return
        }
        let second = try #require(ask(.getPeers(infoHash: infoHash), readOnly: false))
        guard case .response(let found) = second.body else {
            Issue.record("get_peers after the flood got \(second.body)")
            return
        }
        #expect(found.values == [peerRuntime.localEndpoint])

        let rssAfter = try #require(residentBytes())

        // Node internals stay small: nothing in the junk could open lookups or fill storage or the table.
        struct Internals {
            var transactions = 0, verifying = 0, operations = 0, table = 0, cached = 0, items = 0, peers = 0
            var infoHashes = 0, votes = 0, methodKeys = 0
            var statistics = DHTStatistics()
        }
        let internals = runtime.sync { service, _ in
            let node = service as! DHTNode
            let internals = Internals(
                transactions: node.transactions.count, verifying: node.verifying.count,
                operations: node.operationsInProgress, table: node.table.count, cached: node.table.cachedCount,
                items: node.storage.itemCount, peers: node.storage.peerCount, infoHashes: node.storage.infoHashCount,
                votes: node.votes.count, methodKeys: node.statistics.queriesReceived.count,
                statistics: node.statistics)
            return (internals, [Datagram]())
        }
        #expect(internals.transactions <= 70)
        #expect(internals.verifying <= 64)
        #expect(internals.operations == 0)
        #expect(internals.table + internals.cached <= 32)
        #expect(internals.items <= 1)
        #expect(internals.peers == 1 && internals.infoHashes == 1)
        #expect(internals.votes <= 32)
        #expect(internals.methodKeys <= 8)
        #expect(internals.statistics.errorsSent.count <= 9)

        let udpStatistics = runtime.statistics
        let junkSent = senders.reduce(0) { $0 + $1.statistics.sent }
        #expect(junkSent + senders.reduce(0) { $0 + $1.statistics.sendFailures } == Self.junkCount)
        // Every kind of junk reached the node and was handled on its own path.
        #expect(internals.statistics.malformed > 1_000)
        #expect(internals.statistics.unmatched > 1_000)
        #expect((internals.statistics.errorsSent[203] ?? 0) > 1_000)
        #expect((internals.statistics.errorsSent[204] ?? 0) > 100)
        #expect(udpStatistics.droppedOversize > 100)
        #expect(udpStatistics.received <= junkSent + rounds + 4)

        let growth = rssAfter - rssBefore
        #expect(growth < 50 << 20, "resident memory grew by \(growth >> 20) MiB")

        let replies = counters.reduce(into: ReplyCounter.Counts()) { total, counter in
            let counts = counter.counts.withLock { $0 }
            total.datagrams += counts.datagrams
            total.responses += counts.responses
            total.queries += counts.queries
            total.undecodable += counts.undecodable
            total.errors.merge(counts.errors, uniquingKeysWith: +)
        }
        let stats = internals.statistics
        let accounted = udpStatistics.received + udpStatistics.droppedOversize + udpStatistics.droppedRateLimited
        print(
            """
            DHTJunkTests: junk sent \(junkSent) in \(rounds) rounds (+\(rounds + 4) peer queries); \
            node socket: \(udpStatistics); not read (kernel drops): \(junkSent + rounds + 4 - accounted)
            node: malformed \(stats.malformed), unmatched \(stats.unmatched), \
            queries \(listed(stats.queriesReceived)), \
            errors sent \(listed(stats.errorsSent)), check pings \(stats.queriesSent), timeouts \(stats.timeouts)
            replies to junk senders: \(replies.responses) responses, errors \(listed(replies.errors)), \
            \(replies.queries) queries
            internals: transactions \(internals.transactions), verifying \(internals.verifying), \
            table \(internals.table)+\(internals.cached), items \(internals.items), peers \(internals.peers), \
            votes \(internals.votes); RSS \(rssBefore >> 10) KiB -> \(rssAfter >> 10) KiB
            junk kinds: \(listed(factory.made))
            """)
    }
}
