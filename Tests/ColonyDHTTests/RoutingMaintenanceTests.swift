import ColonyCore
import ColonyDHT
import ColonyNet
import Testing

@Suite struct RoutingMaintenanceTests {
    typealias F = RoutingFixture

    static func deepTable(seed: UInt64) -> (RoutingTable, RoutingTestRandom) {
        var generator = RoutingTestRandom(seed: seed)
        var table = RoutingTable(ownID: NodeID.random(using: &generator), now: F.start)
        for index in 0..<60 {
            let id = F.id(sharing: index % 6, with: table.ownID, using: &generator)
            table.heard(from: F.node(id, index), .response, now: F.start)
        }
        return (table, generator)
    }

    @Test func refreshTargetsFallInStaleBuckets() throws {
        var (table, generator) = Self.deepTable(seed: 21)
        #expect(table.bucketCount >= 6)
        #expect(table.refreshTargets(now: F.start.adding(seconds: 60)).isEmpty)

        let due = F.start.adding(seconds: 900)
        let targets = table.refreshTargets(now: due)
        #expect(targets.count == table.bucketCount)
        for (index, target) in targets.enumerated() { #expect(table.bucketIndex(for: target) == index) }
        #expect(table.refreshTargets(now: due).isEmpty, "refreshed buckets count as changed")

        // An answer from a node of bucket 2 keeps that bucket fresh.
        let member = try #require(table.nodes(inBucket: 2).first)
        table.heard(from: member, .response, now: due.adding(seconds: 100))
        let later = table.refreshTargets(now: due.adding(seconds: 900))
        #expect(later.count == table.bucketCount - 1)
        #expect(later.allSatisfy { table.bucketIndex(for: $0) != 2 })

        for index in 0..<table.bucketCount {
            for _ in 0..<50 {
                #expect(table.bucketIndex(for: table.randomID(inBucket: index, using: &generator)) == index)
            }
        }
    }

    @Test func refreshTargetsReplayFromTheSameSeed() {
        var (first, _) = Self.deepTable(seed: 22)
        var (second, _) = Self.deepTable(seed: 22)
        let now = F.start.adding(seconds: 901)
        #expect(first.refreshTargets(now: now) == second.refreshTargets(now: now))
    }

    @Test func persistenceRoundTrip() throws {
        var (table, _) = Self.deepTable(seed: 23)
        #expect(table.cachedCount > 0)
        let bytes = table.encoded().encoded()
        let value = try BencodeDecoder(limits: .frame).decode(bytes)
        let decoded = try #require(RoutingTable.decode(value))
        #expect(decoded.ownID == table.ownID)
        #expect(Array(decoded.nodes.prefix(table.count)) == table.nodes, "live nodes first")
        #expect(decoded.nodes.count == table.count + table.cachedCount)

        // Rebuilding from the decoded candidates, each answering once, gives back the same live set.
        var restored = RoutingTable(ownID: decoded.ownID, now: F.start)
        for node in decoded.nodes { restored.heard(from: node, .response, now: F.start) }
        #expect(Set(restored.nodes) == Set(table.nodes))
        table = restored

        #expect(RoutingTable.decode(["id": .bytes([UInt8](repeating: 1, count: 19)), "nodes": .bytes([])]) == nil)
        #expect(RoutingTable.decode(["id": .bytes([UInt8](repeating: 1, count: 20)), "nodes": .bytes([1])]) == nil)
        #expect(RoutingTable.decode(["nodes": .bytes([])]) == nil)
        #expect(RoutingTable.decode(.integer(3)) == nil)
        #expect(
            RoutingTable.decode(["id": .bytes([UInt8](repeating: 1, count: 20)), "nodes": .bytes([])])?.nodes == [])
    }
}
