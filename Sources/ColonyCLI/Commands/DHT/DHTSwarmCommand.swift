import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony dht swarm`: many DHT nodes in one process on consecutive loopback ports, for local testing.
enum DHTSwarmCommand: Command {
    static let description = CommandDescription(
        name: "swarm",
        abstract: "Run N DHT nodes in this process on consecutive ports, for local testing",
        discussion: """
            Starts N nodes on HOST, ports P to P+N-1, each with its own socket and a random ID, joined to one \
            another (and to --bootstrap nodes, if given), and runs them until Ctrl-C. Other programs, such as \
            'colony dht serve' or a BitTorrent client, can then join through any of them. Nothing is saved. \
            Every node is on a loopback or private address, where BEP 42 and IP-diversity limits do not apply.
            """,
        options: [
            .value("nodes", "N", help: "Nodes to run (default: 100)."),
            .value("host", "H", help: "Address to bind (default: 127.0.0.1)."),
            .value("port", "P", help: "First port (default: 7000)."),
            .bootstrap, .json,
        ],
        examples: ["colony dht swarm --nodes 200 --port 7000", "colony dht serve --bootstrap 127.0.0.1:7000"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let count = try arguments.int("nodes", in: 1...5_000) ?? 100
        let host = arguments.value("host") ?? "127.0.0.1"
        let first = try arguments.int("port", in: 1...65_535) ?? 7_000
        guard first + count - 1 <= 65_535 else {
            throw InputError("--port \(first) with --nodes \(count) runs past port 65535")
        }
        let bootstrap = try DHTCommandSupport.bootstrapEndpoints(arguments)
        let console = environment.console
        let log = EventLog(console: console, json: arguments.flag("json"))
        var nodes: [LiveDHTNode] = []
        for index in 0..<count {
            var udp = UDPConfiguration(host: host, port: UInt16(first + index))
            // Every node of the swarm talks to every other from the same address.
            udp.rateLimit = nil
            let node = try LiveDHTNode(udp: udp, stateFolder: nil, id: .random())
            do {
                try node.start()
            } catch {
                nodes.forEach { $0.stop() }
                throw DHTFailure("node \(index + 1) of \(count): \(error)")
            }
            // Each joins through the first node and a few random earlier ones, without waiting.
            var seeds = bootstrap
            if let root = nodes.first { seeds.append(root.endpoint) }
            for _ in 0..<min(3, nodes.count) { seeds.append(nodes.randomElement()!.endpoint) }
            if !seeds.isEmpty { node.withNode { dht, now in ((), dht.bootstrap(from: seeds, now: now)) } }
            nodes.append(node)
        }
        let stop = DispatchSemaphore(value: 0)
        let interrupts = InterruptHandler(onInterrupt: { stop.signal() }, console: console)
        defer { interrupts.remove() }
        log.emit(
            "listening", ["nodes": .int(count), "first": .string(nodes[0].endpoint.description)],
            text: "\(count) DHT nodes on \(host):\(first)-\(first + count - 1); join through any of them. Ctrl-C stops.")
        var reported = -1
        while stop.wait(timeout: .now() + 5) == .timedOut {
            let sizes = nodes.map { node in node.withNode { dht, _ in (dht.table.count, []) } }
            let average = sizes.reduce(0, +) / max(sizes.count, 1)
            if average != reported {
                reported = average
                log.emit("table", ["averageTableSize": .int(average)], text: "average table: \(average) nodes")
            }
        }
        nodes.forEach { $0.stop() }
        log.emit("stopped", [:], text: "stopped")
        return ExitStatus.success
    }
}
