import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony dht`: run and use a node of the Kademlia DHT (BitTorrent's Mainline wire, BEP 5/42/43/44).
enum DHTCommand: Command {
    static let description = CommandDescription(
        name: "dht",
        abstract: "Run a DHT node, store and fetch items, look up nodes",
        discussion: """
            Colony's DHT speaks BitTorrent's Mainline DHT protocol, so Colony and BitTorrent nodes (libtorrent, \
            Transmission…) route for each other. 'serve' runs a node; the other commands start a short-lived \
            node of their own, join through --bootstrap (or the nodes a 'serve' with the same data directory \
            remembered), do one thing and exit.
            """,
        examples: [
            "colony dht serve --port 6881", "colony dht put --bootstrap 127.0.0.1:6881 'hello'",
            "colony dht get --bootstrap 127.0.0.1:6881 TARGET",
        ]
    )

    static var subcommands: [any Command.Type] {
        [DHTServeCommand.self, DHTPutCommand.self, DHTGetCommand.self, DHTFindNodeCommand.self, DHTPingCommand.self,
         DHTStatsCommand.self, DHTSwarmCommand.self]
    }
}

extension OptionDescription {
    static let bootstrap = OptionDescription.value(
        "bootstrap", "HOST:PORT", help: "A node to join through; repeat for more.", repeatable: true)
    static let dhtPort = OptionDescription.value("port", "P", help: "UDP port (default: any free port).")
    static let dhtHost = OptionDescription.value("host", "H", help: "Address to bind (default: 0.0.0.0).")
    static let timeout = OptionDescription.value("timeout", "S", help: "Give up after S seconds (default: 30).")
    static let network = OptionDescription.value(
        "network", "NAME",
        help: "The Colony network to join (default: colony). Peers announce themselves under its key on the DHT, so any BitTorrent DHT node is enough to find them; networks of different names never share jobs or custody.")
    static let noLocalDiscovery = OptionDescription.flag(
        "no-local-discovery", help: "Neither announce this peer on the LAN nor join the peers heard there (BEP 14 local service discovery).")
    static let advertise = OptionDescription.value(
        "advertise", "HOST:PORT",
        help: "The address a router forwards to this peer (port forwarding): other peers dial it back there before it keeps custody or blobs.")
}

/// What the one-shot DHT commands share: option parsing, a short-lived node, joining.
enum DHTCommandSupport {
    /// Parses HOST:PORT, resolving a host name to IPv4.
    static func endpoint(_ text: String, option: String) throws -> Endpoint {
        if let endpoint = Endpoint(text) { return endpoint }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw InputError("\(option) '\(text)' is not HOST:PORT (for example 127.0.0.1:6881)")
        }
        let host = String(text[..<colon])
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else {
            throw InputError("\(option) '\(text)': cannot resolve host '\(host)'")
        }
        defer { freeaddrinfo(result) }
        let address = first.pointee.ai_addr.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            UInt32(bigEndian: $0.pointee.sin_addr.s_addr)
        }
        return Endpoint(address: address, port: port)
    }

    static func bootstrapEndpoints(_ arguments: ParsedArguments) throws -> [Endpoint] {
        try arguments.values("bootstrap").map { try endpoint($0, option: "--bootstrap") }
    }

    static func udpConfiguration(_ arguments: ParsedArguments) throws -> UDPConfiguration {
        var udp = UDPConfiguration()
        if let host = arguments.value("host") {
            guard Endpoint(host: host == "localhost" ? "127.0.0.1" : host, port: 0) != nil else {
                throw UsageError("--host '\(host)' is not an IPv4 address (for example 0.0.0.0 or 127.0.0.1)", commandPath: arguments.commandPath)
            }
            udp.host = host
        }
        udp.port = UInt16(try arguments.int("port", in: 0...65_535) ?? 0)
        return udp
    }

    static func stateFolder(_ arguments: ParsedArguments, in environment: CommandEnvironment) -> URL {
        environment.dataDirectory(arguments).url.appendingPathComponent("dht")
    }

    /// The configuration of a node that lives for one command. BEP 43 read-only, so that it never enters
    /// anyone's table, where it would soon be a dead entry that lookups wait on; and quicker to give up on silent
    /// nodes than a long-lived node, since someone is waiting: DHT replies take well under a second, and nodes
    /// that have left still linger in other tables.
    static func oneShotConfiguration() -> DHTConfiguration {
        var configuration = DHTConfiguration()
        configuration.readOnly = true
        configuration.shortTimeout = 0.5
        configuration.requestTimeout = 2.5
        return configuration
    }

    /// The nodes a one-shot command joins through: --bootstrap and those a `serve` with this data directory
    /// remembered; a usage error when there are none.
    static func seeds(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> [Endpoint] {
        let remembered = try LiveDHTNode.storedTable(in: stateFolder(arguments, in: environment))?.nodes ?? []
        let seeds = try bootstrapEndpoints(arguments) + remembered.map(\.endpoint)
        guard !seeds.isEmpty else {
            throw UsageError(
                "no node to join through: pass --bootstrap HOST:PORT (a running 'colony dht serve' or any BitTorrent DHT node)",
                commandPath: arguments.commandPath)
        }
        return seeds
    }

    /// Joins `node` (already started) through `seeds`; `stop` and a failure naming the seeds when nobody answers.
    static func join(_ node: LiveDHTNode, through seeds: [Endpoint], timeout: Double, stop: () -> Void) throws {
        guard node.join(seeds, timeout: timeout) > 0 else {
            stop()
            let tried = seeds.prefix(6).map(\.description).joined(separator: ", ")
            throw DHTFailure("found nobody: no answer from \(tried); is a DHT node running there?")
        }
    }

    /// A short-lived node with a fresh ID (so it never collides with a `serve` on the same data directory),
    /// joined to the network; throws when nobody answers.
    static func joinedNode(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> LiveDHTNode {
        let seeds = try seeds(arguments, in: environment)
        let node = try LiveDHTNode(
            configuration: oneShotConfiguration(), udp: try udpConfiguration(arguments), stateFolder: nil, id: .random())
        try node.start()
        try join(node, through: seeds, timeout: try timeout(arguments), stop: node.stop)
        return node
    }

    static func timeout(_ arguments: ParsedArguments) throws -> Double {
        Double(try arguments.int("timeout", in: 1...3600) ?? 30)
    }

    /// Text for a BEP 44 value: the string when it is a UTF-8 byte string, else its bencoding.
    static func text(of value: BencodeValue) -> String {
        if let text = value.string { return text }
        return String(decoding: value.encoded(), as: UTF8.self)
    }
}

/// A DHT operation that ran but did not succeed (exit 1).
struct DHTFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
