import ColonyNet
import Testing

/// One entry of a delivery trace: when, from where, to where, what.
private struct Delivery: Hashable {
    var time: Int64
    var from: Endpoint
    var to: Endpoint
    var bytes: [UInt8]
}

/// Shared by the services of one simulation: every delivery in the order it happened.
private final class Trace {
    var deliveries: [Delivery] = []
}

/// Every 100 ms sends a datagram to a random peer; answers every datagram it gets with a shorter one.
private final class ChatterService: DatagramService {
    let me: Endpoint
    let peers: [Endpoint]
    let trace: Trace
    var random: SeededGenerator
    var nextDeadline: Instant? = .zero

    init(me: Endpoint, peers: [Endpoint], trace: Trace, seed: UInt64) {
        self.me = me
        self.peers = peers
        self.trace = trace
        self.random = SeededGenerator(seed: seed)
    }

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        trace.deliveries.append(Delivery(time: now.nanoseconds, from: source, to: me, bytes: bytes))
        return bytes.count > 1 ? [Datagram(Array(bytes.dropLast()), to: source)] : []
    }

    func tick(now: Instant) -> [Datagram] {
        nextDeadline = now.adding(seconds: 0.1)
        let peer = peers[Int(random.next(upperBound: UInt64(peers.count)))]
        return [Datagram([UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: 3), to: peer)]
    }
}

/// Records arrivals; sends nothing by itself.
private final class SinkService: DatagramService {
    var arrivals: [(time: Instant, from: Endpoint, bytes: [UInt8])] = []
    var ticks: [Instant] = []
    var deadlines: [Instant] = []
    var nextDeadline: Instant? { deadlines.first }

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        arrivals.append((now, source, bytes))
        return []
    }

    func tick(now: Instant) -> [Datagram] {
        ticks.append(now)
        deadlines.removeAll { $0 <= now }
        return []
    }
}

private func endpoint(_ index: Int) -> Endpoint {
    Endpoint(address: 0x0A00_0000 + UInt32(index), port: 6881)
}

private func chatterTrace(seed: UInt64) -> [Delivery] {
    let network = SimulatedNetwork(seed: seed, conditions: NetworkConditions(loss: 0.1))
    let trace = Trace()
    let endpoints = (1...50).map(endpoint)
    for (index, me) in endpoints.enumerated() {
        network.add(ChatterService(me: me, peers: endpoints, trace: trace, seed: UInt64(index)), at: me)
    }
    network.run(for: 5)
    return trace.deliveries
}

@Suite struct SimulatedNetworkTests {
    @Test func sameSeedSameTrace() {
        let first = chatterTrace(seed: 42)
        #expect(first.count > 3000)
        #expect(first == chatterTrace(seed: 42))
        #expect(first != chatterTrace(seed: 43))
    }

    @Test func lossRateMatchesConditions() {
        let network = SimulatedNetwork(seed: 7, conditions: NetworkConditions(loss: 0.3))
        let sink = SinkService()
        network.add(sink, at: endpoint(2))
        network.add(SinkService(), at: endpoint(1))
        network.perform(at: endpoint(1)) { _, _ in (0..<10_000).map { _ in Datagram([1], to: endpoint(2)) } }
        network.runUntilIdle()
        // Losses are drawn when a datagram is sent (here, in `perform`), deliveries counted when it arrives.
        let totals = network.statistics
        #expect(totals.delivered + totals.lost == 10_000)
        #expect(totals.delivered == sink.arrivals.count)
        // Binomial: standard deviation 0.0046 for 10,000 draws; the tolerance is over six of them.
        let rate = Double(totals.lost) / 10_000
        #expect(abs(rate - 0.3) < 0.03, "loss rate \(rate)")
        #expect(network.statistics.sent == 10_000)
        #expect(network.statistics.performed == 1)
    }

    @Test func delaysStayWithinBoundsAndSpreadOverThem() {
        let conditions = NetworkConditions(minimumDelay: 0.02, maximumDelay: 0.08)
        let network = SimulatedNetwork(seed: 1, conditions: conditions)
        let sink = SinkService()
        network.add(sink, at: endpoint(2))
        network.add(SinkService(), at: endpoint(1))
        network.run(for: 1)
        let sentAt = network.now
        network.perform(at: endpoint(1)) { _, _ in (0..<2000).map { _ in Datagram([1], to: endpoint(2)) } }
        network.runUntilIdle()
        let delays = sink.arrivals.map { $0.time.seconds(since: sentAt) }
        #expect(delays.count == 2000)
        let shortest = delays.min() ?? 0
        let longest = delays.max() ?? 0
        #expect(shortest >= 0.02 && longest <= 0.08)
        #expect(shortest < 0.021 && longest > 0.079)
        // Arrivals come in time order.
        #expect(sink.arrivals.map(\.time) == sink.arrivals.map(\.time).sorted())
    }

    @Test func deadNodesReceiveNothingAndNeverTick() {
        let network = SimulatedNetwork(seed: 3, conditions: NetworkConditions(minimumDelay: 0.01, maximumDelay: 0.01))
        let sender = SinkService()
        let victim = SinkService()
        victim.deadlines = [.seconds(1)]
        network.add(sender, at: endpoint(1))
        network.add(victim, at: endpoint(2))
        network.perform(at: endpoint(1)) { _, _ in [Datagram([1], to: endpoint(2))] }
        network.kill(endpoint(2))
        #expect(!network.isAlive(endpoint(2)))
        #expect(!network.perform(at: endpoint(2)) { _, _ in [] })
        let run = network.run(for: 5)
        #expect(run.toDead == 1)
        #expect(run.delivered == 0)
        #expect(victim.arrivals.isEmpty && victim.ticks.isEmpty)

        // A new service may take the dead node's place.
        let successor = SinkService()
        network.add(successor, at: endpoint(2))
        let before = network.statistics
        network.perform(at: endpoint(1)) { _, _ in [Datagram([2], to: endpoint(2)), Datagram([3], to: endpoint(9))] }
        let second = network.run(for: 1)
        #expect(successor.arrivals.map(\.bytes) == [[2]])
        #expect(second.delivered == 1)
        #expect(network.statistics.subtracting(before).unroutable == 1)
    }

    @Test func partitionsDropCrossTrafficUntilHealed() {
        let network = SimulatedNetwork(seed: 5)
        let sinks = (1...3).map { _ in SinkService() }
        for (index, sink) in sinks.enumerated() { network.add(sink, at: endpoint(index + 1)) }
        network.partition([[endpoint(1), endpoint(2)], [endpoint(3)]])
        let toEveryone = { (_: any DatagramService, _: Instant) in [1, 2, 3].map { Datagram([1], to: endpoint($0)) } }
        network.perform(at: endpoint(1), toEveryone)
        let cut = network.run(for: 1)
        #expect(cut.partitioned == 1)
        #expect(sinks.map(\.arrivals.count) == [1, 1, 0])

        network.heal()
        network.perform(at: endpoint(1), toEveryone)
        let healed = network.run(for: 1)
        #expect(healed.partitioned == 0)
        #expect(sinks.map(\.arrivals.count) == [2, 2, 1])

        // Nodes named in no group are a group of their own.
        network.partition([[endpoint(1)]])
        network.perform(at: endpoint(2)) { _, _ in [Datagram([1], to: endpoint(3)), Datagram([1], to: endpoint(1))] }
        let partial = network.run(for: 1)
        #expect(partial.delivered == 1 && partial.partitioned == 1)
    }

    @Test func timersFireExactlyAtDeadlinesOnce() {
        let network = SimulatedNetwork(seed: 9)
        let sink = SinkService()
        sink.deadlines = [.seconds(2), .seconds(3)]
        network.add(sink, at: endpoint(1))
        // Moving the deadline later leaves a stale event at 2 s that must not tick.
        network.perform(at: endpoint(1)) { service, _ in
            (service as? SinkService)?.deadlines = [.seconds(2.5), .seconds(3)]
            return []
        }
        let run = network.run(until: .seconds(10))
        #expect(sink.ticks == [.seconds(2.5), .seconds(3)])
        #expect(run.ticks == 2)
        #expect(network.now == .seconds(10))
        #expect(network.pendingEvents == 0)
    }

    @Test func idleNodesCostNoEvents() {
        let network = SimulatedNetwork(seed: 11)
        for index in 0..<10_000 { network.add(SinkService(), at: endpoint(index)) }
        #expect(network.nodeCount == 10_000)
        let run = network.runUntilIdle()
        #expect(run.events == 0)
        network.perform(at: endpoint(17)) { _, _ in [Datagram([1], to: endpoint(4242))] }
        #expect(network.runUntilIdle().events == 1)
        #expect((network.service(at: endpoint(4242)) as? SinkService)?.arrivals.count == 1)
    }

    @Test func runUntilIdleStopsAtItsLimit() {
        let network = SimulatedNetwork(seed: 2)
        let trace = Trace()
        network.add(ChatterService(me: endpoint(1), peers: [endpoint(1)], trace: trace, seed: 1), at: endpoint(1))
        let run = network.runUntilIdle(limit: 500)
        #expect(run.events == 500)
        #expect(network.pendingEvents > 0)
    }

    @Test func invalidConditionsNameTheField() {
        #expect(throws: NetworkConditionsError.self) { try NetworkConditions(loss: 1.5).validate() }
        let error = #expect(throws: NetworkConditionsError.self) {
            try NetworkConditions(minimumDelay: 0.2, maximumDelay: 0.1).validate()
        }
        #expect(error?.field == "maximumDelay")
    }
}
