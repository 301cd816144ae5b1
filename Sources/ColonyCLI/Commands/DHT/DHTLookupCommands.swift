import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony dht find-node`: an iterative lookup of the nodes closest to an ID.
enum DHTFindNodeCommand: Command {
    static let description = CommandDescription(
        name: "find-node",
        abstract: "Find the nodes closest to an ID",
        positionals: [PositionalDescription("ID", help: "40 hex digits.")],
        options: [.bootstrap, .dataDir, .dhtPort, .timeout, .json],
        examples: ["colony dht find-node --bootstrap 127.0.0.1:6881 0123456789abcdef0123456789abcdef01234567"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let text = arguments.positionals.first else { throw UsageError("missing ID", commandPath: arguments.commandPath) }
        guard let target = NodeID(hex: text) else { throw InputError("ID '\(text)' is not 40 hex digits") }
        let node = try DHTCommandSupport.joinedNode(arguments, in: environment)
        defer { node.stop() }
        let timeout = try DHTCommandSupport.timeout(arguments)
        guard let result = node.wait(timeout: timeout, { dht, now, done in dht.findNode(target, now: now) { done($0) } }) else {
            throw DHTFailure("the lookup did not finish within \(Int(timeout)) s")
        }
        if arguments.flag("json") {
            environment.console.printJSON(.object([
                "target": .string(target.hex), "rounds": .int(result.rounds), "messages": .int(result.messages),
                "seconds": .double(result.seconds),
                "nodes": .array(result.closest.map { node in
                    .object([
                        "id": .string(node.id.hex), "endpoint": .string(node.endpoint.description),
                        "distanceBits": .int(160 - node.id.distance(to: target).leadingZeroBitCount),
                        "colony": .bool(result.colonyNodes.contains(node.id)),
                    ])
                }),
            ]))
        } else {
            for node in result.closest {
                let marker = result.colonyNodes.contains(node.id) ? "  colony" : ""
                environment.console.print("\(node.id.hex)  \(node.endpoint)\(marker)")
            }
            environment.console.note(
                "\(result.closest.count) nodes in \(result.rounds) rounds, \(result.messages) queries, \(String(format: "%.2f", result.seconds)) s")
        }
        return result.closest.isEmpty ? ExitStatus.failure : ExitStatus.success
    }
}

/// `colony dht ping`: one KRPC ping.
enum DHTPingCommand: Command {
    static let description = CommandDescription(
        name: "ping",
        abstract: "Ping a DHT node and print its ID and round-trip time",
        positionals: [PositionalDescription("HOST:PORT", help: "The node to ping.")],
        options: [.dhtPort, .timeout, .json],
        examples: ["colony dht ping 127.0.0.1:6881"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let text = arguments.positionals.first else { throw UsageError("missing HOST:PORT", commandPath: arguments.commandPath) }
        let target = try DHTCommandSupport.endpoint(text, option: "HOST:PORT")
        var configuration = DHTCommandSupport.oneShotConfiguration()
        // One request: wait for it as long as asked (default 5 s).
        configuration.requestTimeout = arguments.value("timeout") == nil ? 5 : try DHTCommandSupport.timeout(arguments)
        let node = try LiveDHTNode(configuration: configuration, udp: try DHTCommandSupport.udpConfiguration(arguments), stateFolder: nil)
        try node.start()
        defer { node.stop() }
        let result = node.wait(timeout: configuration.requestTimeout + 5) { dht, now, done in dht.ping(target, now: now) { done($0) } }
        switch result {
        case .answered(let id, _, let seconds):
            if arguments.flag("json") {
                environment.console.printJSON(.object([
                    "endpoint": .string(target.description), "id": .string(id.hex), "milliseconds": .double(seconds * 1000),
                ]))
            } else {
                environment.console.print("\(target): id \(id.hex), \(String(format: "%.2f", seconds * 1000)) ms")
            }
            return ExitStatus.success
        case .error(let error):
            throw DHTFailure("\(target) answered with error \(error.code): \(error.message)")
        case .timedOut, nil:
            throw DHTFailure("no answer from \(target) within \(Int(configuration.requestTimeout)) s")
        }
    }
}

/// `colony dht stats`: what the `serve` on this data directory last saved.
enum DHTStatsCommand: Command {
    static let description = CommandDescription(
        name: "stats",
        abstract: "Show the state a 'colony dht serve' saved: ID, table, storage, counters",
        discussion: "A running 'serve' rewrites DATA-DIR/dht/state.json every 5 seconds and when it stops.",
        options: [.dataDir, .json],
        examples: ["colony dht stats", "colony dht stats --data-dir /tmp/node2 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let url = DHTCommandSupport.stateFolder(arguments, in: environment).appendingPathComponent(DHTStateFile.name)
        guard let data = try AtomicFile.read(url) else {
            throw DHTFailure("\(url.path) does not exist: no 'colony dht serve' has run with this data directory")
        }
        let state = try JSONText.parse(data, source: url.path)
        guard case .object(let fields) = state else { throw DHTFailure("\(url.path): not a state object") }
        var running = false
        if case .int(let pid)? = fields["pid"] { running = kill(pid_t(pid), 0) == 0 }
        if arguments.flag("json") {
            var object = fields
            object["running"] = .bool(running)
            environment.console.printJSON(.object(object))
            return ExitStatus.success
        }
        func field(_ name: String) -> String {
            guard let value = fields[name] else { return "-" }
            if case .string(let text) = value { return text }
            return JSONText.serialize(value)
        }
        let console = environment.console
        console.print("node        \(field("id")) on \(field("endpoint"))\(running ? " (running)" : " (not running)")")
        console.print("updated     \(field("updated"))")
        console.print("table       \(field("tableSize")) nodes in \(field("buckets")) buckets")
        console.print("storing     \(field("items")) items, \(field("peers")) peers")
        console.print("queries in  \(field("queriesReceived"))")
        console.print("queries out \(field("queriesSent")), \(field("responsesReceived")) answered, \(field("timeouts")) timed out")
        console.print("bad input   \(field("malformed")) malformed, \(field("unmatched")) unmatched; errors sent \(field("errorsSent"))")
        return ExitStatus.success
    }
}
