import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony dht serve`: a DHT node that runs until Ctrl-C.
enum DHTServeCommand: Command {
    static let description = CommandDescription(
        name: "serve",
        abstract: "Run a DHT node until Ctrl-C",
        discussion: """
            Routes, answers queries and stores items and peers for others. The node ID and routing table are \
            kept in DATA-DIR/dht and reloaded on the next start, so a restarted node rejoins without \
            --bootstrap. While nobody answers it keeps trying, with growing pauses, and says so. Logs joins \
            and the table's size; with --json, one JSON object per line.
            """,
        options: [
            .dhtHost, .dhtPort, .bootstrap, .dataDir,
            .flag("read-only", help: "BEP 43: answer no queries and ask others not to route through this node."),
            .value("quota", "SIZE", help: "Most bytes of blobs to hold, like 10GiB (default: no limit)."),
            .jsonLines,
        ],
        examples: [
            "colony dht serve --port 6881", "colony dht serve --port 6882 --bootstrap 127.0.0.1:6881",
            "colony dht serve --host 127.0.0.1 --port 0 --json",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let json = arguments.flag("json")
        let bootstrap = try DHTCommandSupport.bootstrapEndpoints(arguments)
        var configuration = DHTConfiguration()
        configuration.readOnly = arguments.flag("read-only")
        let folder = DHTCommandSupport.stateFolder(arguments, in: environment)
        let udp = try DHTCommandSupport.udpConfiguration(arguments)
        let directory = environment.dataDirectory(arguments)
        try directory.create()
        try environment.claim(directory, for: arguments)
        let log = EventLog(console: console, json: json)
        // A serving node also holds and serves blobs on TCP, on the same port number, and accepts replicas.
        var peerConfiguration = BlobPeer.Configuration()
        peerConfiguration.dht = configuration
        peerConfiguration.acceptsReplicas = !configuration.readOnly
        if let quota = arguments.value("quota") { peerConfiguration.quota = Int64(try Format.byteSize(quota, option: "--quota")) }
        let peer = try BlobPeer(
            dataDirectory: directory.url, host: udp.host, port: udp.port, configuration: peerConfiguration,
            log: { line in log.emit("blobs", ["message": .string(line)], text: line) })
        try peer.start()
        defer { peer.stop() }
        let node = peer.node
        // Signals are caught before the first line goes out: a supervisor that stops the node as soon as it says
        // it listens must not hit the moment the default action is off and the handler not yet on.
        let stop = DispatchSemaphore(value: 0)
        let interrupts = InterruptHandler(onInterrupt: { stop.signal() }, console: console)
        defer { interrupts.remove() }
        log.emit(
            "listening", ["endpoint": .string(node.endpoint.description), "id": .string(node.id.hex)],
            text: "Colony DHT node \(node.id.hex) listening on \(node.endpoint) (state in \(folder.path))")
        node.onEvent { event in
            switch event {
            case .joined(let size):
                log.emit("joined", ["tableSize": .int(size)], text: "joined: \(size) nodes in the table")
            case .bootstrapFailed(let attempt, let tried, let retry):
                log.emit(
                    "bootstrapFailed",
                    ["attempt": .int(attempt), "tried": .array(tried.map { .string($0.description) }), "retryIn": .double(retry)],
                    text: "nobody answered (\(tried.map(\.description).joined(separator: ", "))); trying again in \(Int(retry)) s (attempt \(attempt))")
            case .externalAddress(let address):
                log.emit("externalAddress", ["address": .string(address.description)], text: "other nodes see this node as \(address)")
            case .idChanged(let id):
                log.emit("idChanged", ["id": .string(id.hex)], text: "new node ID from the external address (BEP 42): \(id.hex)")
            }
        }
        let seeds = bootstrap + node.rememberedNodes.map(\.endpoint)
        if seeds.isEmpty {
            log.emit("waiting", [:], text: "no --bootstrap and no remembered nodes: waiting for others to join through \(node.endpoint)")
        } else {
            node.withNode { dht, now in ((), dht.bootstrap(from: seeds, now: now)) }
        }

        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "colony.dht.serve"))
        let last = ChangeDetector<[Int]>()
        timer.schedule(deadline: .now() + 5, repeating: 5)
        timer.setEventHandler {
            try? node.save()
            try? DHTStateFile.write(node, to: folder)
            let (size, items, peers) = node.withNode { dht, _ in ((dht.table.count, dht.storage.itemCount, dht.storage.peerCount), []) }
            if last.changed([size, items, peers]) {
                log.emit(
                    "table", ["tableSize": .int(size), "items": .int(items), "peers": .int(peers)],
                    text: "table: \(size) nodes; storing \(items) items and \(peers) peers")
            }
        }
        timer.resume()
        stop.wait()
        timer.cancel()
        do {
            try node.save()
            try DHTStateFile.write(node, to: folder)
        } catch {
            console.note("warning: could not save the routing table: \(error)")
        }
        let size = node.withNode { dht, _ in (dht.table.count, []) }
        log.emit("stopped", ["tableSize": .int(size)], text: "stopped; \(size) nodes saved in \(folder.path)")
        return ExitStatus.success
    }
}

/// Log lines for `serve`, `node` and `worker`: text for people, JSON objects for programs. Under systemd, when
/// standard output is the journal, text lines carry a syslog priority prefix (`<6>`, informational) instead of a
/// timestamp: the journal stamps each line itself (sd-daemon(3)).
final class EventLog: @unchecked Sendable {
    private let console: Console
    private let json: Bool
    private let journal: Bool
    private let lock = NSLock()

    init(console: Console, json: Bool, journal: Bool = EventLog.outputIsJournal()) {
        self.console = console
        self.json = json
        self.journal = journal
    }

    /// Whether file descriptor `fd` is the stream systemd names in `JOURNAL_STREAM` ("DEVICE:INODE"), that is,
    /// whether this process logs straight into the journal.
    static func outputIsJournal(
        _ stream: String? = ProcessInfo.processInfo.environment["JOURNAL_STREAM"], fd: Int32 = STDOUT_FILENO
    ) -> Bool {
        guard let stream else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    func emit(_ event: String, _ fields: [String: JSONValue], text: String) {
        lock.withLock {
            if json {
                var object = fields
                object["event"] = .string(event)
                object["time"] = .string(Format.utcTimestampMilliseconds())
                console.print(JSONText.serialize(.object(object)))
            } else {
                console.print(journal ? "<6>\(text)" : "\(Format.localTimestamp()) \(text)")
            }
        }
    }
}

/// Tells a periodic report whether anything changed since the last one, so that idle services log nothing.
final class ChangeDetector<Value: Equatable>: @unchecked Sendable {
    private var last: Value?

    /// True the first time and whenever `value` differs from the previous call's.
    func changed(_ value: Value) -> Bool {
        defer { last = value }
        return last != value
    }
}
