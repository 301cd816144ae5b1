import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

/// Hostile-input properties over seeded random inputs: decoding never crashes, what decodes re-encodes stably, and
/// every message the encoder can build from valid parts decodes to itself.
@Suite struct KRPCRobustnessTests {
    typealias F = KRPCFixture

    /// SplitMix64: a small seeded generator, so failures reproduce.
    struct Seeded: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Decodes `input`; on success checks the re-encoding decodes to the same message and encodes the same again.
    /// Returns whether it decoded.
    @discardableResult
    static func checkStable(_ input: [UInt8]) -> Bool {
        do {
            let message = try KRPCMessage.decode(input)
            let encoded = message.encoded()
            let again = try KRPCMessage.decode(encoded)
            #expect(again == message)
            #expect(again.encoded() == encoded)
            return true
        } catch {
            if let t = error.transactionID { #expect((1...16).contains(t.count)) }
            return false
        }
    }

    static let seeds: [[UInt8]] = [
        F.bytes("d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe"),
        F.bytes("d1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re"),
        F.bytes(
            "d1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e"
                + "5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe"),
        F.bytes("d1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee"),
        KRPCMessage.query(
            .put(
                PutArguments(
                    token: [1, 2], value: ["a": [1, "b"]], publicKey: [UInt8](repeating: 1, count: 32),
                    signature: [UInt8](repeating: 2, count: 64), seq: 3, salt: [4], cas: 2)),
            from: F.id(repeating: 9), transactionID: [1, 2], version: F.bytes("CO") + [0, 1], readOnly: true
        ).encoded(),
    ]

    @Test func randomBytesNeverCrash() {
        var generator = Seeded(state: 0xC0_10_4E)
        let alphabet = F.bytes("dlei0123456789:-qrtyae")
        for round in 0..<20_000 {
            let length = Int.random(in: 0...200, using: &generator)
            // Half uniform bytes, half bencode-ish characters, so the structural paths are reached as well.
            let input: [UInt8] =
                round % 2 == 0
                ? (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                : (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            Self.checkStable(input)
        }
    }

    @Test func mutatedMessagesNeverCrash() {
        var generator = Seeded(state: 42)
        var decoded = 0
        for round in 0..<20_000 {
            var input = Self.seeds[round % Self.seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<input.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: input[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: input.remove(at: position)
                case 2: input.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                default: input[position] ^= 1 << UInt8.random(in: 0..<8, using: &generator)
                }
                if input.isEmpty { break }
            }
            if Self.checkStable(input) { decoded += 1 }
        }
        // Single-byte changes inside IDs, tokens and text keep many inputs valid; the property checks need them.
        #expect(decoded > 500)
    }

    /// A random message built only from valid parts.
    static func randomMessage(using generator: inout Seeded) -> KRPCMessage {
        func bytes(_ range: ClosedRange<Int>) -> [UInt8] {
            (0..<Int.random(in: range, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        }
        func id() -> NodeID { NodeID.random(using: &generator) }
        func maybe<T>(_ make: () -> T) -> T? { Bool.random(using: &generator) ? make() : nil }
        func integer() -> Int64 { Int64.random(in: Int64.min...Int64.max, using: &generator) }
        func endpoint() -> Endpoint {
            Endpoint(
                address: UInt32.random(in: 0...UInt32.max, using: &generator),
                port: UInt16.random(in: 0...65535, using: &generator))
        }
        func item(depth: Int) -> BencodeValue {
            switch Int.random(in: 0..<(depth > 2 ? 2 : 4), using: &generator) {
            case 0: return .integer(integer())
            case 1: return .bytes(bytes(0...40))
            case 2: return .list((0..<Int.random(in: 0...3, using: &generator)).map { _ in item(depth: depth + 1) })
            default:
                let pairs = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                    (bytes(0...6), item(depth: depth + 1))
                }
                return .dictionary(BencodeDictionary(pairs) { first, _ in first })
            }
        }
        let body: KRPCMessage.Body
        switch Int.random(in: 0..<9, using: &generator) {
        case 0: body = .query(senderID: id(), .ping)
        case 1: body = .query(senderID: id(), .findNode(target: id()))
        case 2: body = .query(senderID: id(), .getPeers(infoHash: id()))
        case 3:
            body = .query(
                senderID: id(),
                .announcePeer(
                    infoHash: id(), port: UInt16.random(in: 0...65535, using: &generator),
                    impliedPort: Bool.random(using: &generator), token: bytes(0...20)))
        case 4: body = .query(senderID: id(), .get(target: id(), seq: maybe(integer)))
        case 5:
            let mutable = Bool.random(using: &generator)
            let salt = maybe { bytes(1...64) }
            body = .query(
                senderID: id(),
                .put(
                    PutArguments(
                        token: bytes(0...20), value: item(depth: 0), publicKey: mutable ? bytes(32...32) : nil,
                        signature: mutable ? bytes(64...64) : nil, seq: mutable ? integer() : maybe(integer),
                        salt: salt, cas: maybe(integer))))
        case 6:
            let letters = F.bytes("abcdefghijklmnopqrstuvwxyz_")
            var name = (0..<Int.random(in: 1...20, using: &generator)).map { _ in
                letters.randomElement(using: &generator)!
            }
            name.insert(UInt8(ascii: "x"), at: 0)  // never one of the known names
            body = .query(senderID: id(), .unknown(method: String(decoding: name, as: UTF8.self)))
        case 7:
            body = .response(
                KRPCResponse(
                    id: id(),
                    nodes: maybe {
                        (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                            NodeInfo(id: id(), endpoint: endpoint())
                        }
                    },
                    values: maybe { (0..<Int.random(in: 0...10, using: &generator)).map { _ in endpoint() } },
                    token: maybe { bytes(0...20) }, value: maybe { item(depth: 0) }, publicKey: maybe { bytes(0...40) },
                    signature: maybe { bytes(0...70) }, seq: maybe(integer)))
        default:
            body = .error(
                KRPCError(
                    code: Int.random(in: -1000...1000, using: &generator),
                    message: String(repeating: "é", count: Int.random(in: 0...30, using: &generator))))
        }
        return KRPCMessage(
            transactionID: bytes(1...16), body: body, version: maybe { bytes(0...6) },
            readOnly: Bool.random(using: &generator), requester: maybe(endpoint))
    }

    @Test func everyValidMessageRoundTrips() throws {
        var generator = Seeded(state: 7)
        for _ in 0..<3_000 {
            let message = Self.randomMessage(using: &generator)
            let bytes = message.encoded()
            guard bytes.count <= BencodeLimits.datagram.maxInputSize else { continue }
            #expect(try KRPCMessage.decode(bytes) == message, "\(message)")
            // The encoding is canonical bencode: the strict decoder re-encodes it to the very same bytes.
            #expect(try BencodeValue(decoding: bytes).encoded() == bytes)
        }
    }
}
