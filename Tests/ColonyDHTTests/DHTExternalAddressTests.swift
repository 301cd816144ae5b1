import ColonyCore
import ColonyNet
import Testing

@testable import ColonyDHT

/// BEP 42: a node learns its external address from the `ip` field of replies and takes an ID derived from it.
@Suite struct DHTExternalAddressTests {
    /// Has `node` ping `peers`, answers each ping with `ip` = `external`, and returns the events it reported.
    func answerPings(_ node: DHTNode, from peers: [Endpoint], claiming external: Endpoint) throws -> [DHTEvent] {
        final class Events { var list: [DHTEvent] = [] }
        let events = Events()
        node.onEvent = { events.list.append($0) }
        var now = Instant.seconds(1)
        for peer in peers {
            let sent = node.ping(peer, now: now) { _ in }
            let query = try KRPCMessage.decode(try #require(sent.first).bytes)
            let reply = KRPCMessage(
                transactionID: query.transactionID, body: .response(KRPCResponse(id: .random())),
                version: Array("LT".utf8) + [1, 0], requester: external)
            _ = node.receive(reply.encoded(), from: peer, now: now)
            now = now.adding(seconds: 0.1)
        }
        return events.list
    }

    @Test func threeAgreeingPublicVotersGiveABEP42ID() throws {
        let node = DHTNode(id: NodeID(hex: "0000000000000000000000000000000000000001")!, now: .zero)
        let external = Endpoint(host: "124.31.75.21", port: 6881)!
        let voters = ["8.8.8.8", "9.9.9.9", "1.1.1.1"].map { Endpoint(host: $0, port: 6881)! }
        #expect(!BEP42.isValid(node.id, for: external.address))
        let events = try answerPings(node, from: voters, claiming: external)
        #expect(node.externalAddress == external)
        #expect(BEP42.isValid(node.id, for: external.address))
        #expect(events.contains { if case .idChanged(let id) = $0 { id == node.id } else { false } })
    }

    @Test func twoVotersOrOneVoterRepeatingItAreNotEnough() throws {
        let node = DHTNode(id: NodeID(hex: "0000000000000000000000000000000000000001")!, now: .zero)
        let before = node.id
        let external = Endpoint(host: "124.31.75.21", port: 6881)!
        // One address claiming it three times from three ports counts once.
        let voters = [6881, 6882, 6883].map { Endpoint(host: "8.8.8.8", port: UInt16($0))! }
            + [Endpoint(host: "9.9.9.9", port: 1)!]
        _ = try answerPings(node, from: voters, claiming: external)
        #expect(node.externalAddress == nil)
        #expect(node.id == before)
    }

    @Test func aLocalExternalAddressKeepsTheRandomID() throws {
        let node = DHTNode(id: NodeID(hex: "0000000000000000000000000000000000000001")!, now: .zero)
        let before = node.id
        let local = Endpoint(host: "192.168.1.10", port: 6881)!
        let voters = ["10.0.0.2", "10.0.0.3", "10.0.0.4"].map { Endpoint(host: $0, port: 6881)! }
        _ = try answerPings(node, from: voters, claiming: local)
        #expect(node.externalAddress == local)
        #expect(node.id == before)
    }
}
