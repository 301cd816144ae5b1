import ColonyDHT
import ColonyNet
import Testing

@Suite struct RoutingClosestTests {
    typealias F = RoutingFixture

    /// A table filled from 2,000 random answering nodes (diversity off), with some nodes made bad.
    static func filledTable(seed: UInt64) -> (RoutingTable, RoutingTestRandom) {
        var generator = RoutingTestRandom(seed: seed)
        var configuration = RoutingConfiguration()
        configuration.ipDiversity = false
        configuration.replacementCacheSize = 0  // so that bad nodes stay in place and must be filtered
        var table = RoutingTable(ownID: NodeID.random(using: &generator), configuration: configuration, now: F.start)
        for index in 0..<2_000 {
            var id = NodeID.random(using: &generator)
            // A quarter of the nodes land near our ID, so the table grows deep.
            if index % 4 == 0 {
                id = F.id(sharing: Int.random(in: 1...30, using: &generator), with: table.ownID, using: &generator)
            }
            table.heard(from: F.node(id, index), .response, now: F.start)
        }
        for node in table.nodes where Int.random(in: 0..<5, using: &generator) == 0 {
            table.failed(node.id, now: F.start)
            table.failed(node.id, now: F.start)
        }
        return (table, generator)
    }

    @Test(arguments: [11, 12, 13] as [UInt64]) func closestMatchesBruteForce(seed: UInt64) {
        var (table, generator) = Self.filledTable(seed: seed)
        F.checkInvariants(table)
        #expect(table.bucketCount > 10)
        let usable = table.nodes.filter { table.state(of: $0.id, now: F.start) != .bad }
        #expect(usable.count < table.count, "some nodes are bad")
        var targets = [table.ownID, NodeID.zero, NodeID.max] + table.nodes.prefix(20).map(\.id)
        for _ in 0..<150 { targets.append(NodeID.random(using: &generator)) }
        for prefix in 0..<40 { targets.append(F.id(sharing: prefix, with: table.ownID, using: &generator)) }
        for target in targets {
            let sorted = usable.sorted { target.distance(to: $0.id) < target.distance(to: $1.id) }
            for count in [1, 3, 8, 20, 1_000] {
                let expected = Array(sorted.prefix(count))
                #expect(table.closest(to: target, count: count) == expected, "target \(target) count \(count)")
            }
        }
        #expect(table.closest(to: table.ownID, count: 0).isEmpty)
    }

    @Test func emptyAndTinyTables() {
        var generator = RoutingTestRandom(seed: 14)
        var table = RoutingTable(ownID: NodeID.random(using: &generator), now: F.start)
        #expect(table.closest(to: NodeID.random(using: &generator), count: 8).isEmpty)
        let node = F.node(NodeID.random(using: &generator), 1)
        table.heard(from: node, .response, now: F.start)
        #expect(table.closest(to: NodeID.random(using: &generator), count: 8) == [node])
    }
}
