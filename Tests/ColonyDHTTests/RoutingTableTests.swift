import ColonyDHT
import ColonyNet
import Testing

/// A seeded generator (SplitMix64) so that randomised routing tests reproduce.
struct RoutingTestRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ z >> 30) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ z >> 27) &* 0x94D0_49BB_1331_11EB
        return z ^ z >> 31
    }
}

/// Builders shared by the routing tests.
enum RoutingFixture {
    static let start = Instant.seconds(1_000)

    /// A random ID that shares exactly `prefix` leading bits with `own` (the range of bucket `prefix`).
    static func id(sharing prefix: Int, with own: NodeID, using generator: inout RoutingTestRandom) -> NodeID {
        var id = NodeID.random(using: &generator)
        for bit in 0..<prefix { id = id.setting(bit: bit, to: own.bit(bit)) }
        return id.setting(bit: prefix, to: !own.bit(prefix))
    }

    /// A public (non-local) endpoint in its own /24 for each `index`: 1.0.0.1, 1.0.1.1, 1.0.2.1, …
    static func endpoint(_ index: Int) -> Endpoint {
        Endpoint(address: 0x0100_0001 + UInt32(index) << 8, port: 6881)
    }

    static func node(_ id: NodeID, _ index: Int) -> NodeInfo { NodeInfo(id: id, endpoint: endpoint(index)) }

    /// Checks the table's structural invariants: bucket sizes and that every node lies in its bucket's range.
    static func checkInvariants(_ table: RoutingTable) {
        let last = table.bucketCount - 1
        for index in 0..<table.bucketCount {
            let nodes = table.nodes(inBucket: index)
            #expect(nodes.count <= table.configuration.bucketSize)
            for node in nodes {
                let shared = table.ownID.sharedPrefixLength(with: node.id)
                if index < last { #expect(shared == index) } else { #expect(shared >= last) }
            }
        }
        #expect(Set(table.nodes.map(\.id)).count == table.count)
    }
}

@Suite struct RoutingTableTests {
    typealias F = RoutingFixture

    @Test func onlyAnsweringNodesEnter() {
        var generator = RoutingTestRandom(seed: 1)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let node = F.node(NodeID.random(using: &generator), 1)

        #expect(table.heard(from: node, .query, now: F.start) == .unverified)
        #expect(!table.contains(node.id))
        #expect(table.heard(from: node, .response, now: F.start) == .added)
        #expect(table.contains(node.id))
        #expect(table.node(node.id) == node)
        #expect(table.heard(from: node, .query, now: F.start) == .updated)
        #expect(table.heard(from: node, .response, now: F.start) == .updated)
        #expect(table.heard(from: F.node(own, 2), .response, now: F.start) == .rejected)
        #expect(table.count == 1)
        table.remove(node.id)
        #expect(!table.contains(node.id))
        #expect(table.count == 0)
    }

    @Test func splitsOnlyAlongOwnIDPath() {
        var generator = RoutingTestRandom(seed: 2)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        // Eight nodes in the far half fill the single bucket without splitting.
        for index in 0..<8 {
            let id = F.id(sharing: 0, with: own, using: &generator)
            #expect(table.heard(from: F.node(id, index), .response, now: F.start) == .added)
        }
        #expect(table.bucketCount == 1)
        // A ninth far node splits the bucket (it holds our ID) but the far half stays full: it is cached.
        let ninth = F.node(F.id(sharing: 0, with: own, using: &generator), 8)
        #expect(table.heard(from: ninth, .response, now: F.start) == .cached)
        #expect(table.bucketCount == 2)
        #expect(table.cachedCount == 1)
        // More far nodes never split bucket 0 again.
        for index in 9..<40 {
            table.heard(from: F.node(F.id(sharing: 0, with: own, using: &generator), index), .response, now: F.start)
        }
        #expect(table.bucketCount == 2)
        #expect(table.nodes(inBucket: 0).count == 8)
        #expect(table.cachedCount == 8)
        // Close nodes make the table deepen along our own ID.
        for index in 40..<100 {
            let id = F.id(sharing: Int.random(in: 1...12, using: &generator), with: own, using: &generator)
            table.heard(from: F.node(id, index), .response, now: F.start)
        }
        #expect(table.bucketCount > 2)
        F.checkInvariants(table)
    }

    @Test(arguments: [1, 4, 8, 20]) func bucketsHoldAtMostK(_ k: Int) {
        var generator = RoutingTestRandom(seed: UInt64(k))
        var configuration = RoutingConfiguration()
        configuration.bucketSize = k
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, configuration: configuration, now: F.start)
        for index in 0..<3_000 {
            table.heard(from: F.node(NodeID.random(using: &generator), index), .response, now: F.start)
        }
        F.checkInvariants(table)
        // The farthest buckets see about half, a quarter, … of 3,000 random IDs: they must all be full.
        for index in 0..<4 { #expect(table.nodes(inBucket: index).count == k) }
        #expect(table.bucketCount <= RoutingTable.maximumBucketCount)
    }

    @Test func deepestTableStopsAt160Buckets() {
        var generator = RoutingTestRandom(seed: 3)
        let own = NodeID.random(using: &generator)
        var configuration = RoutingConfiguration()
        configuration.bucketSize = 1
        var table = RoutingTable(ownID: own, configuration: configuration, now: F.start)
        // One node per distance class, closest first, forces every split down to the last bit.
        for prefix in stride(from: 159, through: 0, by: -1) {
            table.heard(
                from: F.node(F.id(sharing: prefix, with: own, using: &generator), prefix), .response, now: F.start)
        }
        #expect(table.bucketCount == 160)
        #expect(table.count == 160)
        F.checkInvariants(table)
    }

    @Test func cacheReplacesANodeThatGoesBad() throws {
        var generator = RoutingTestRandom(seed: 4)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let far = (0..<8).map { F.node(F.id(sharing: 0, with: own, using: &generator), $0) }
        for node in far { table.heard(from: node, .response, now: F.start) }
        let spare = F.node(F.id(sharing: 0, with: own, using: &generator), 8)
        #expect(table.heard(from: spare, .response, now: F.start.adding(seconds: 5)) == .cached)

        let victim = far[3]
        table.failed(victim.id, now: F.start.adding(seconds: 10))
        #expect(table.contains(victim.id), "one failure only makes it questionable")
        #expect(table.state(of: victim.id, now: F.start.adding(seconds: 10)) == .questionable)
        table.failed(victim.id, now: F.start.adding(seconds: 20))
        #expect(!table.contains(victim.id))
        #expect(table.contains(spare.id))
        #expect(table.cachedCount == 0)
        #expect(table.nodes(inBucket: 0).count == 8)
    }

    @Test func badNodeWithoutSpareStaysUntilANewcomerNeedsItsSlot() {
        var generator = RoutingTestRandom(seed: 5)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let far = (0..<8).map { F.node(F.id(sharing: 0, with: own, using: &generator), $0) }
        for node in far { table.heard(from: node, .response, now: F.start) }
        table.heard(from: F.node(F.id(sharing: 1, with: own, using: &generator), 50), .response, now: F.start)
        #expect(table.bucketCount == 2)
        for _ in 0..<2 { table.failed(far[0].id, now: F.start) }
        #expect(table.contains(far[0].id))
        #expect(table.state(of: far[0].id, now: F.start) == .bad)
        #expect(!table.closest(to: far[0].id, count: 100).contains(far[0]))
        // A bad node that answers again is good again.
        table.heard(from: far[0], .response, now: F.start)
        #expect(table.state(of: far[0].id, now: F.start) == .good)
        for _ in 0..<2 { table.failed(far[0].id, now: F.start) }
        let newcomer = F.node(F.id(sharing: 0, with: own, using: &generator), 9)
        #expect(table.heard(from: newcomer, .response, now: F.start) == .added)
        #expect(!table.contains(far[0].id))
        #expect(table.contains(newcomer.id))
    }

    @Test func removingALiveNodePromotesFromCache() {
        var generator = RoutingTestRandom(seed: 6)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let far = (0..<10).map { F.node(F.id(sharing: 0, with: own, using: &generator), $0) }
        for node in far { table.heard(from: node, .response, now: F.start) }
        #expect(table.cachedCount == 2)
        table.remove(far[0].id)
        #expect(table.nodes(inBucket: 0).count == 8)
        #expect(table.cachedCount == 1)
        // A failing cached node is simply dropped.
        let cached = far[8...].first { !table.contains($0.id) }!
        table.failed(cached.id, now: F.start)
        #expect(table.cachedCount == 0)
    }

    @Test func ipDiversityLimits() throws {
        var generator = RoutingTestRandom(seed: 7)
        let own = NodeID.random(using: &generator)
        func farID() -> NodeID { F.id(sharing: 0, with: own, using: &generator) }
        let subnet = try #require(Endpoint(host: "81.2.3.4", port: 6881))
        let sameSubnet = try #require(Endpoint(host: "81.2.3.99", port: 6881))
        let samePlaceOtherPort = try #require(Endpoint(host: "81.2.3.4", port: 7000))
        let otherSubnet = try #require(Endpoint(host: "81.2.4.4", port: 6881))

        var strict = RoutingTable(ownID: own, now: F.start)
        #expect(strict.heard(from: NodeInfo(id: farID(), endpoint: subnet), .response, now: F.start) == .added)
        #expect(strict.heard(from: NodeInfo(id: farID(), endpoint: sameSubnet), .response, now: F.start) == .rejected)
        #expect(strict.heard(from: NodeInfo(id: farID(), endpoint: sameSubnet), .query, now: F.start) == .rejected)
        #expect(strict.heard(from: NodeInfo(id: farID(), endpoint: otherSubnet), .response, now: F.start) == .added)
        // One address, one entry in the whole table, whatever the bucket and port.
        let nearID = F.id(sharing: 5, with: own, using: &generator)
        #expect(
            strict.heard(from: NodeInfo(id: nearID, endpoint: samePlaceOtherPort), .response, now: F.start) == .rejected
        )

        var configuration = RoutingConfiguration()
        configuration.ipDiversity = false
        var loose = RoutingTable(ownID: own, configuration: configuration, now: F.start)
        #expect(loose.heard(from: NodeInfo(id: farID(), endpoint: subnet), .response, now: F.start) == .added)
        #expect(loose.heard(from: NodeInfo(id: farID(), endpoint: sameSubnet), .response, now: F.start) == .added)
        #expect(
            loose.heard(from: NodeInfo(id: nearID, endpoint: samePlaceOtherPort), .response, now: F.start) == .added)

        // Local addresses are never limited, even when diversity is on.
        var local = RoutingTable(ownID: own, now: F.start)
        for port in UInt16(1)...8 {
            let loopback = Endpoint(address: 0x7F00_0001, port: port)
            #expect(local.heard(from: NodeInfo(id: farID(), endpoint: loopback), .response, now: F.start) == .added)
        }
        let lan = try #require(Endpoint(host: "192.168.1.20", port: 1))
        #expect(local.heard(from: NodeInfo(id: farID(), endpoint: lan), .response, now: F.start) == .cached)
    }

    @Test func knownIDFromAnotherEndpoint() {
        var generator = RoutingTestRandom(seed: 8)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let original = F.node(NodeID.random(using: &generator), 1)
        let impostor = NodeInfo(id: original.id, endpoint: F.endpoint(2))
        table.heard(from: original, .response, now: F.start)
        #expect(table.heard(from: impostor, .query, now: F.start) == .rejected)
        #expect(table.heard(from: impostor, .response, now: F.start) == .rejected)
        #expect(table.node(original.id) == original)
        // Once the old endpoint stops answering, the ID may move.
        table.failed(original.id, now: F.start)
        #expect(table.heard(from: impostor, .response, now: F.start) == .added)
        #expect(table.node(original.id) == impostor)
        #expect(table.count == 1)

        // An endpoint that answers under a new ID replaces its old entry.
        let renamed = NodeInfo(id: NodeID.random(using: &generator), endpoint: impostor.endpoint)
        #expect(table.heard(from: renamed, .response, now: F.start) == .added)
        #expect(!table.contains(original.id))
        #expect(table.contains(renamed.id))
        #expect(table.count == 1)
    }

    @Test func goodQuestionableBadTransitions() throws {
        var generator = RoutingTestRandom(seed: 9)
        let own = NodeID.random(using: &generator)
        var table = RoutingTable(ownID: own, now: F.start)
        let a = F.node(NodeID.random(using: &generator), 1)
        let b = F.node(NodeID.random(using: &generator), 2)
        let c = F.node(NodeID.random(using: &generator), 3)
        table.heard(from: a, .response, now: F.start)
        table.heard(from: b, .response, now: F.start.adding(seconds: 100))
        table.heard(from: c, .response, now: F.start.adding(seconds: 200))

        #expect(table.state(of: a.id, now: F.start.adding(seconds: 899)) == .good)
        #expect(table.state(of: a.id, now: F.start.adding(seconds: 900)) == .questionable)
        #expect(table.nodesToPing(now: F.start.adding(seconds: 899)).isEmpty)
        // At 1,050 s, a and b have been silent for 15 minutes; the longest silent comes first.
        #expect(table.nodesToPing(now: F.start.adding(seconds: 1_050)) == [a, b])

        // A query from a node that has answered before makes it good again (BEP 5).
        table.heard(from: a, .query, now: F.start.adding(seconds: 1_050))
        #expect(table.state(of: a.id, now: F.start.adding(seconds: 1_050)) == .good)
        #expect(table.nodesToPing(now: F.start.adding(seconds: 1_050)) == [b])

        // One unanswered query: questionable (to be tried once more). Two in a row: bad, and no longer pinged.
        table.failed(c.id, now: F.start.adding(seconds: 300))
        #expect(table.state(of: c.id, now: F.start.adding(seconds: 300)) == .questionable)
        #expect(table.nodesToPing(now: F.start.adding(seconds: 300)) == [c])
        table.heard(from: c, .response, now: F.start.adding(seconds: 310))
        #expect(table.state(of: c.id, now: F.start.adding(seconds: 310)) == .good)
        table.failed(c.id, now: F.start.adding(seconds: 320))
        table.failed(c.id, now: F.start.adding(seconds: 330))
        #expect(table.state(of: c.id, now: F.start.adding(seconds: 330)) == .bad)
        #expect(table.nodesToPing(now: F.start.adding(seconds: 330)).isEmpty)
        #expect(table.closest(to: c.id, count: 8).map(\.id).contains(c.id) == false)
        // A query does not clear failures: only an answer does.
        table.heard(from: c, .query, now: F.start.adding(seconds: 340))
        #expect(table.state(of: c.id, now: F.start.adding(seconds: 340)) == .bad)
        #expect(table.state(of: NodeID.random(using: &generator), now: F.start) == nil)
    }

    @Test func configurationValidation() {
        #expect(throws: Never.self) { try RoutingConfiguration().validate() }
        var configuration = RoutingConfiguration()
        configuration.bucketSize = 0
        #expect(throws: RoutingConfiguration.Invalid.self) { try configuration.validate() }
        configuration = RoutingConfiguration()
        configuration.questionableAfter = -1
        #expect { try configuration.validate() } throws: {
            ($0 as? RoutingConfiguration.Invalid)?.field == "questionableAfter"
        }
    }

    @Test func setOwnIDRebuildsAroundTheNewID() {
        var generator = RoutingTestRandom(seed: 10)
        var configuration = RoutingConfiguration()
        configuration.ipDiversity = false
        var table = RoutingTable(ownID: NodeID.random(using: &generator), configuration: configuration, now: F.start)
        var known: Set<NodeID> = []
        for index in 0..<500 {
            let node = F.node(NodeID.random(using: &generator), index)
            if table.heard(from: node, .response, now: F.start) != .rejected { known.insert(node.id) }
        }
        let before = Set(table.nodes.map(\.id))
        let newID = NodeID.random(using: &generator)
        table.setOwnID(newID, now: F.start.adding(seconds: 1))
        #expect(table.ownID == newID)
        F.checkInvariants(table)
        let after = Set(table.nodes.map(\.id))
        #expect(after.isSubset(of: known))
        #expect(after.count >= table.bucketCount)  // every bucket on the way down got something
        #expect(!before.isEmpty)

        // Small tables keep every node across an ID change.
        var small = RoutingTable(ownID: NodeID.random(using: &generator), now: F.start)
        let nodes = (0..<6).map { F.node(NodeID.random(using: &generator), $0) }
        for node in nodes { small.heard(from: node, .response, now: F.start) }
        small.failed(nodes[2].id, now: F.start)
        small.setOwnID(NodeID.random(using: &generator), now: F.start)
        #expect(Set(small.nodes) == Set(nodes))
        #expect(small.state(of: nodes[2].id, now: F.start) == .questionable, "history survives the rebuild")
        // Our new ID may be a node's ID: that entry is dropped.
        small.setOwnID(nodes[0].id, now: F.start)
        #expect(!small.contains(nodes[0].id))
        #expect(small.count == 5)
    }
}
