import ColonyCore
import ColonyNet
import Testing

@testable import ColonyDHT

final class ValueBox<T> { var value: T? }

/// A few DHT nodes over the simulated network.
final class SmallSwarm {
    let network: SimulatedNetwork
    var nodes: [DHTNode] = []
    var endpoints: [Endpoint] = []

    init(count: Int, seed: UInt64 = 7, configuration: DHTConfiguration = .init()) {
        network = SimulatedNetwork(seed: seed, conditions: .lossless)
        var generator = SeededGenerator(seed: seed)
        for index in 0..<count {
            let node = DHTNode(id: .random(using: &generator), configuration: configuration, now: network.now)
            let endpoint = Endpoint(address: 0x0A00_0001 + UInt32(index), port: 6881)
            nodes.append(node)
            endpoints.append(endpoint)
            network.add(node, at: endpoint)
        }
    }

    func joinAll() {
        for index in 1..<nodes.count {
            _ = network.perform(at: endpoints[index]) { service, now in
                (service as! DHTNode).bootstrap(from: [self.endpoints[0]], now: now)
            }
            _ = network.run(for: 2)
        }
        _ = network.run(for: 10)
    }

    func on<T>(_ index: Int, _ body: (DHTNode, Instant, @escaping (T) -> Void) -> [Datagram]) -> T? {
        let box = ValueBox<T>()
        _ = network.perform(at: endpoints[index]) { service, now in
            body(service as! DHTNode, now) { box.value = $0 }
        }
        _ = network.run(for: 30)
        return box.value
    }
}

@Suite struct DHTNodeTests {
    @Test func nodesJoinAndFindTheClosest() throws {
        let swarm = SmallSwarm(count: 40)
        swarm.joinAll()
        #expect(swarm.nodes.allSatisfy { $0.table.count > 5 })
        #expect(swarm.nodes.dropFirst().allSatisfy { $0.hasJoined })
        let target = NodeID.random()
        let result = try #require(swarm.on(3) { node, now, done in node.findNode(target, now: now, completion: done) })
        let truth = swarm.nodes.filter { $0 !== swarm.nodes[3] }.map(\.id)
            .sorted { target.isCloser($0, than: $1) }.prefix(8)
        #expect(result.closest.map(\.id) == Array(truth))
        #expect(result.messages > 0 && result.rounds > 0)
        #expect(result.colonyNodes.count == 8)
    }

    @Test func immutableAndMutableItemsTravel() throws {
        let swarm = SmallSwarm(count: 30)
        swarm.joinAll()
        let item = ImmutableItem(value: .bytes(Array("Hello World!".utf8)))
        let stored = try #require(swarm.on(1) { node, now, done in node.put(item, now: now, completion: done) })
        #expect(stored.stored == 8)
        let got = try #require(swarm.on(20) { node, now, done in node.getImmutable(item.target, now: now, completion: done) })
        #expect(got.immutable == item)

        let key = Ed25519PrivateKey()
        let salt = Array("colony".utf8)
        let mutable = MutableItem.signed(value: .integer(42), salt: salt, seq: 3, key: key)
        let putMutable = try #require(swarm.on(2) { node, now, done in node.put(mutable, now: now, completion: done) })
        #expect(putMutable.stored == 8)
        let publicKey = Array(key.publicKey.rawRepresentation)
        let read = try #require(swarm.on(25) { node, now, done in
            node.getMutable(publicKey: publicKey, salt: salt, now: now, completion: done)
        })
        #expect(read.mutable == mutable)
        // An older seq is refused with 302.
        let older = MutableItem.signed(value: .integer(1), salt: salt, seq: 2, key: key)
        let refused = try #require(swarm.on(4) { node, now, done in node.put(older, now: now, completion: done) })
        // Every node that holds seq 3 refuses; a node that joined the closest set from the putter's side may not.
        #expect(refused.errors.filter { $0.code == 302 }.count >= 7)
        let again = try #require(swarm.on(26) { node, now, done in
            node.getMutable(publicKey: publicKey, salt: salt, now: now, completion: done)
        })
        #expect(again.mutable?.seq == 3)
    }

    @Test func peersAnnouncedAreFound() throws {
        let swarm = SmallSwarm(count: 30)
        swarm.joinAll()
        let infoHash = NodeID.random()
        let announced = try #require(swarm.on(5) { node, now, done in node.announce(infoHash, port: 4000, now: now, completion: done) })
        #expect(announced.stored == 8)
        let found = try #require(swarm.on(9) { node, now, done in node.getPeers(infoHash, now: now, completion: done) })
        #expect(found.peers == [Endpoint(address: swarm.endpoints[5].address, port: 4000)])
    }

    @Test func bootstrapThatFindsNobodyRetriesAndSaysSo() {
        let swarm = SmallSwarm(count: 1)
        final class Events { var failures: [(Int, Double)] = [] }
        let events = Events()
        swarm.nodes[0].onEvent = { event in
            if case .bootstrapFailed(let attempt, _, let retry) = event { events.failures.append((attempt, retry)) }
        }
        _ = swarm.network.perform(at: swarm.endpoints[0]) { service, now in
            (service as! DHTNode).bootstrap(from: [Endpoint(address: 0x0A09_0909, port: 1)], now: now)
        }
        _ = swarm.network.run(for: 60)
        #expect(events.failures.count >= 3)
        #expect(events.failures.map(\.0) == Array(1...events.failures.count))
        #expect(events.failures[1].1 > events.failures[0].1)
    }

    @Test func itemsOutliveTheirLifetimeWhileTheirPublisherRepublishes() throws {
        let swarm = SmallSwarm(count: 20)
        swarm.joinAll()
        let kept = ImmutableItem(value: .bytes(Array("kept".utf8)))
        let dropped = ImmutableItem(value: .bytes(Array("dropped".utf8)))
        _ = try #require(swarm.on(1) { node, now, done in node.put(kept, now: now, completion: done) })
        _ = try #require(swarm.on(1) { node, now, done in node.put(dropped, now: now, completion: done) })
        swarm.nodes[1].unpublish(dropped.target)
        // Three item lifetimes (2 hours each by default) of virtual time.
        let lifetime = swarm.nodes[0].configuration.storage.itemLifetime
        _ = swarm.network.run(for: 3 * lifetime)
        let found = try #require(swarm.on(7) { node, now, done in node.getImmutable(kept.target, now: now, completion: done) })
        #expect(found.immutable == kept)
        let gone = try #require(swarm.on(7) { node, now, done in node.getImmutable(dropped.target, now: now, completion: done) })
        #expect(gone.immutable == nil)
    }
}
