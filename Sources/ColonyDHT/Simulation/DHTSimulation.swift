import ColonyCore
import ColonyNet

/// A whole DHT in one process over the simulated network: builds it, runs lookups and item stores, kills nodes,
/// and checks every answer against the truth, which a simulation can know.
public final class DHTSimulation {
    /// What to build and measure.
    public struct Parameters: Sendable {
        /// Nodes in the network.
        public var nodes = 1_000
        /// Lookups of random targets measured on the healthy network, and again after the deaths.
        public var lookups = 500
        /// Immutable items put before the deaths and read after them.
        public var items = 100
        /// The fraction of nodes that die silently after the items are put.
        public var deadFraction = 0.0
        /// Seed for IDs, choices and network conditions.
        public var seed: UInt64 = 1
        /// Loss and delay.
        public var conditions = NetworkConditions()
        /// The nodes' configuration.
        public var configuration = DHTConfiguration()

        /// The defaults.
        public init() {}
    }

    /// Figures for one phase of lookups.
    public struct LookupFigures: Sendable {
        /// Lookups run.
        public var count = 0
        /// Lookups whose result was exactly the true k closest live nodes.
        public var exact = 0
        /// Lookups that returned only live nodes.
        public var liveOnly = 0
        /// Rounds of each lookup, sorted.
        public var rounds: [Int] = []
        /// Messages of each lookup, sorted.
        public var messages: [Int] = []
        /// Virtual seconds of each lookup, sorted.
        public var seconds: [Double] = []

        /// The share of exact results.
        public var successRate: Double { count == 0 ? 0 : Double(exact) / Double(count) }

        /// The value at quantile `q` (0…1) of sorted `values`.
        public static func quantile<T>(_ values: [T], _ q: Double) -> T? {
            guard !values.isEmpty else { return nil }
            return values[min(values.count - 1, Int((Double(values.count - 1) * q).rounded()))]
        }
    }

    /// The whole outcome.
    public struct Report: Sendable {
        /// Nodes built.
        public var nodes: Int
        /// Nodes that joined (their self-lookup finished).
        public var joined: Int
        /// Nodes killed.
        public var dead: Int
        /// Average routing-table size after the build.
        public var averageTableSize: Double
        /// Lookups on the healthy network.
        public var healthy: LookupFigures
        /// Lookups after the deaths (empty when none died).
        public var afterDeaths: LookupFigures?
        /// Items put, confirmed by at least one node, and found again after the deaths.
        public var itemsPut: Int
        public var itemsStored: Int
        public var itemsFound: Int
        /// Datagrams the simulated network delivered, lost and sent to dead nodes.
        public var datagrams: (delivered: Int, lost: Int, toDead: Int)
        /// Virtual seconds simulated.
        public var virtualSeconds: Double
    }

    public let parameters: Parameters
    public let network: SimulatedNetwork
    private(set) var nodes: [DHTNode] = []
    private(set) var endpoints: [Endpoint] = []
    private var alive: [Bool] = []
    private var random: SeededGenerator

    /// A simulation with `parameters`; nothing runs until `run`.
    public init(_ parameters: Parameters) {
        self.parameters = parameters
        network = SimulatedNetwork(seed: parameters.seed, conditions: parameters.conditions)
        random = SeededGenerator(seed: parameters.seed ^ 0x5EED)
    }

    /// Builds the network, measures lookups, puts items, kills nodes, measures again and reads the items.
    public func run(progress: (String) -> Void = { _ in }) -> Report {
        build(progress: progress)
        let healthy = measureLookups(progress: progress, phase: "healthy")
        let (put, stored, targets) = putItems()
        var afterDeaths: LookupFigures?
        var found = 0
        var dead = 0
        if parameters.deadFraction > 0 {
            dead = killNodes()
            progress("killed \(dead) nodes")
            afterDeaths = measureLookups(progress: progress, phase: "after deaths")
        }
        found = getItems(targets)
        let stats = network.statistics
        return Report(
            nodes: nodes.count, joined: nodes.filter(\.hasJoined).count, dead: dead,
            averageTableSize: Double(nodes.reduce(0) { $0 + $1.table.count }) / Double(max(nodes.count, 1)),
            healthy: healthy, afterDeaths: afterDeaths, itemsPut: put, itemsStored: stored, itemsFound: found,
            datagrams: (stats.delivered, stats.lost, stats.toDead), virtualSeconds: network.now.seconds)
    }

    /// The endpoint of node `index`: 10.x.y.z, a local range, so BEP 42 leaves the random IDs alone.
    static func endpoint(_ index: Int) -> Endpoint {
        Endpoint(address: 0x0A00_0000 | UInt32(index + 1), port: 6881)
    }

    private func build(progress: (String) -> Void) {
        let count = parameters.nodes
        nodes.reserveCapacity(count)
        for index in 0..<count {
            let node = DHTNode(
                id: NodeID.random(using: &random), configuration: parameters.configuration, now: network.now)
            let endpoint = Self.endpoint(index)
            nodes.append(node)
            endpoints.append(endpoint)
            alive.append(true)
            network.add(node, at: endpoint)
        }
        // Nodes join in waves, each through a random node that joined before it.
        let wave = max(1, min(200, count / 20))
        var joined = 1
        while joined < count {
            let end = min(count, joined + wave)
            for index in joined..<end {
                let through = endpoints[Int.random(in: 0..<joined, using: &random)]
                _ = network.perform(at: endpoints[index]) { service, now in
                    (service as! DHTNode).bootstrap(from: [through], now: now)
                }
            }
            _ = network.run(for: 3)
            joined = end
            if joined % (wave * 10) == 0 || joined == count { progress("built \(joined)/\(count) nodes") }
        }
        _ = network.run(for: 10)
    }

    private func liveIndex() -> Int {
        while true {
            let index = Int.random(in: 0..<nodes.count, using: &random)
            if alive[index] { return index }
        }
    }

    private func trueClosest(to target: NodeID, count: Int) -> [NodeID] {
        var best: [(NodeID, NodeID)] = []
        for (index, node) in nodes.enumerated() where alive[index] {
            let distance = node.id.distance(to: target)
            if best.count < count || distance < best[best.count - 1].0 {
                best.append((distance, node.id))
                best.sort { $0.0 < $1.0 }
                if best.count > count { best.removeLast() }
            }
        }
        return best.map(\.1)
    }

    private func measureLookups(progress: (String) -> Void, phase: String) -> LookupFigures {
        final class Box { var results: [(NodeID, Int, LookupResult)] = [] }
        let box = Box()
        let k = parameters.configuration.k
        let batch = 100
        var started = 0
        while started < parameters.lookups {
            for _ in 0..<min(batch, parameters.lookups - started) {
                let origin = liveIndex()
                let target = NodeID.random(using: &random)
                _ = network.perform(at: endpoints[origin]) { service, now in
                    (service as! DHTNode).findNode(target, now: now) { box.results.append((target, origin, $0)) }
                }
            }
            started += min(batch, parameters.lookups - started)
            _ = network.run(for: 60)
        }
        var figures = LookupFigures()
        let liveIDs = Set(nodes.indices.filter { alive[$0] }.map { nodes[$0].id })
        for (target, origin, result) in box.results {
            figures.count += 1
            // The origin never returns itself; the truth is computed the same way.
            var truth = trueClosest(to: target, count: k + 1).filter { $0 != nodes[origin].id }
            truth = Array(truth.prefix(k))
            let got = result.closest.map(\.id)
            if got == truth { figures.exact += 1 }
            if got.allSatisfy(liveIDs.contains) { figures.liveOnly += 1 }
            figures.rounds.append(result.rounds)
            figures.messages.append(result.messages)
            figures.seconds.append(result.seconds)
        }
        figures.rounds.sort()
        figures.messages.sort()
        figures.seconds.sort()
        progress(
            "\(phase): \(figures.exact)/\(figures.count) lookups exact, median rounds \(LookupFigures.quantile(figures.rounds, 0.5) ?? 0)"
        )
        return figures
    }

    private func putItems() -> (put: Int, stored: Int, targets: [NodeID]) {
        final class Box { var stored = 0 }
        let box = Box()
        var targets: [NodeID] = []
        for index in 0..<parameters.items {
            let item = ImmutableItem(value: .bytes(Array("colony simulated item \(index) seed \(parameters.seed)".utf8)))
            targets.append(item.target)
            _ = network.perform(at: endpoints[liveIndex()]) { service, now in
                (service as! DHTNode).put(item, now: now) { if $0.stored > 0 { box.stored += 1 } }
            }
        }
        _ = network.run(for: 60)
        return (parameters.items, box.stored, targets)
    }

    private func killNodes() -> Int {
        let count = Int((Double(nodes.count) * parameters.deadFraction).rounded())
        var killed = 0
        while killed < count {
            let index = Int.random(in: 0..<nodes.count, using: &random)
            guard alive[index] else { continue }
            alive[index] = false
            network.kill(endpoints[index])
            killed += 1
        }
        return killed
    }

    private func getItems(_ targets: [NodeID]) -> Int {
        final class Box { var found = 0 }
        let box = Box()
        for target in targets {
            _ = network.perform(at: endpoints[liveIndex()]) { service, now in
                (service as! DHTNode).getImmutable(target, now: now) { if $0.immutable != nil { box.found += 1 } }
            }
        }
        _ = network.run(for: 60)
        return box.found
    }
}
