/// A load test of the simulator itself, for `colony bench`-style commands: every node pings a number of random
/// others once per virtual second and answers every ping with a pong.
public struct PingSwarmBenchmark: Sendable {
    /// Nodes in the swarm.
    public var nodes: Int = 10_000
    /// Pings each node sends per virtual second.
    public var pingsPerSecond: Int = 20
    /// Virtual seconds to run.
    public var seconds: Double = 60
    /// Seed of the network and of the nodes' choices.
    public var seed: UInt64 = 1
    /// Loss and delay.
    public var conditions: NetworkConditions = .lossless

    /// A benchmark with the defaults: 10,000 nodes, 20 pings per second each, 60 virtual seconds.
    public init() {}

    /// What one run measured.
    public struct Result: Sendable, CustomStringConvertible {
        /// The network's counters over the run.
        public var statistics: SimulationStatistics
        /// Pongs the nodes received.
        public var pongs: Int
        /// Wall-clock seconds of the run (building the swarm excluded).
        public var wallSeconds: Double
        /// Wall-clock seconds to add the nodes.
        public var setupSeconds: Double

        /// Events per wall-clock second.
        public var eventsPerSecond: Double { Double(statistics.events) / max(wallSeconds, 1e-9) }

        public var description: String {
            let rate = (eventsPerSecond / 1e6 * 100).rounded() / 100
            return "\(statistics.events) events in \(wallSeconds) s (\(rate) M events/s), setup \(setupSeconds) s, "
                + "pongs \(pongs); \(statistics)"
        }
    }

    /// Builds the swarm and runs it.
    public func run() -> Result {
        let setupStart = Instant.monotonicNow()
        let network = SimulatedNetwork(seed: seed, conditions: conditions)
        let endpoints = (0..<nodes).map { Endpoint(address: 0x0A00_0000 + UInt32($0), port: 6881) }
        var nodes: [PingNode] = []
        nodes.reserveCapacity(endpoints.count)
        for (index, endpoint) in endpoints.enumerated() {
            // Start times spread over the first second so the swarm does not ping in lockstep.
            let start = Instant(nanoseconds: Int64(index) * 1_000_000_000 / Int64(max(endpoints.count, 1)))
            let node = PingNode(
                peers: endpoints, pingsPerRound: pingsPerSecond, start: start, seed: seed &+ UInt64(index))
            nodes.append(node)
            network.add(node, at: endpoint)
        }
        let runStart = Instant.monotonicNow()
        let statistics = network.run(for: seconds)
        let end = Instant.monotonicNow()
        return Result(
            statistics: statistics, pongs: nodes.reduce(0) { $0 + $1.pongs },
            wallSeconds: end.seconds(since: runStart), setupSeconds: runStart.seconds(since: setupStart))
    }
}

/// The benchmark's node: pings random peers every second, answers pings, counts pongs.
private final class PingNode: DatagramService {
    private let peers: [Endpoint]
    private let pingsPerRound: Int
    private var random: SeededGenerator
    private(set) var pongs = 0
    private(set) var nextDeadline: Instant?

    init(peers: [Endpoint], pingsPerRound: Int, start: Instant, seed: UInt64) {
        self.peers = peers
        self.pingsPerRound = pingsPerRound
        self.random = SeededGenerator(seed: seed)
        self.nextDeadline = start
    }

    func receive(_ bytes: [UInt8], from source: Endpoint, now: Instant) -> [Datagram] {
        // Byte 0 is 0 for a ping, 1 for a pong; a KRPC ping is about this size.
        guard bytes.first == 0 else {
            pongs += 1
            return []
        }
        var pong = bytes
        pong[0] = 1
        return [Datagram(pong, to: source)]
    }

    func tick(now: Instant) -> [Datagram] {
        nextDeadline = now.adding(seconds: 1)
        guard !peers.isEmpty else { return [] }
        var pings: [Datagram] = []
        pings.reserveCapacity(pingsPerRound)
        for _ in 0..<pingsPerRound {
            let peer = peers[Int(random.next(upperBound: UInt64(peers.count)))]
            pings.append(Datagram([UInt8](repeating: 0, count: 48), to: peer))
        }
        return pings
    }
}
