import ColonyBlobs
import ColonyCore
import ColonyDHT
import ColonyKernel
import ColonyNet
import Foundation

/// `colony blob`: put files into the swarm and fetch them back, verified chunk by chunk.
enum BlobCommand: Command {
    static let description = CommandDescription(
        name: "blob",
        abstract: "Put files into the swarm and fetch them, verified chunk by chunk",
        discussion: """
            A blob is a file cut into 1 MiB chunks, named by the SHA-256 of its manifest (the list of chunk \
            hashes). Holders announce themselves in the DHT under the blob's key; fetchers find them there and \
            pull chunks from several at once over TCP, on the same port number as the holder's DHT node. Blobs \
            live in DATA-DIR/blobs. 'colony dht serve' holds and serves blobs and accepts replicas.
            """,
        examples: [
            "colony blob put results.tar --bootstrap 127.0.0.1:6881",
            "colony blob get 3f…9a -o results.tar --bootstrap 127.0.0.1:6881", "colony blob ls",
        ]
    )

    static var subcommands: [any Command.Type] { [BlobPutCommand.self, BlobGetCommand.self, BlobListCommand.self] }
}

enum BlobCommandSupport {
    /// A peer for one command: its own port, the data directory's store, a fresh DHT ID (a `serve` on the same
    /// data directory keeps its own), joined through --bootstrap.
    static func peer(
        _ arguments: ParsedArguments, in environment: CommandEnvironment, readOnly: Bool, replicas: Int = 3
    ) throws -> BlobPeer {
        let seeds = try DHTCommandSupport.seeds(arguments, in: environment)
        var configuration = BlobPeer.Configuration()
        configuration.replicas = replicas
        configuration.repairInterval = nil
        configuration.acceptsReplicas = false
        configuration.dht = DHTCommandSupport.oneShotConfiguration()
        configuration.dht.readOnly = readOnly
        let udp = try DHTCommandSupport.udpConfiguration(arguments)
        let directory = environment.dataDirectory(arguments)
        try directory.create()
        if !readOnly { try environment.claim(directory, for: arguments) }
        let peer = try BlobPeer(
            dataDirectory: directory.url, host: udp.host, port: udp.port, configuration: configuration,
            dhtStateFolder: .some(nil), log: { environment.console.note($0) }, id: .random())
        try peer.start()
        try DHTCommandSupport.join(peer.node, through: seeds, timeout: 30, stop: peer.stop)
        return peer
    }
}

/// `colony blob put`.
enum BlobPutCommand: Command {
    static let description = CommandDescription(
        name: "put",
        abstract: "Store a file in the swarm and print its root hash",
        discussion: """
            Stores FILE in this data directory's blob store, announces this peer as a holder and asks the \
            --replicas closest Colony nodes to hold copies; waits until that many hold it, so the blob outlives \
            this command. With --serve it then keeps serving until Ctrl-C.
            """,
        positionals: [PositionalDescription("FILE", help: "The file to store.")],
        options: [
            .bootstrap, .value("replicas", "R", help: "Copies to place on other nodes (default: 3)."),
            .value("chunk-size", "BYTES", help: "Chunk size (default: 1048576)."),
            .flag("serve", help: "Keep serving after the replicas are placed, until Ctrl-C."),
            .dataDir, .dhtHost, .dhtPort, .timeout, .json,
        ],
        examples: ["colony blob put data.bin --bootstrap 127.0.0.1:6881", "colony blob put data.bin --replicas 5 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let path = arguments.positionals.first else { throw UsageError("missing FILE", commandPath: arguments.commandPath) }
        let file = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw InputError("\(path): no such file")
        }
        let replicas = try arguments.int("replicas", in: 0...20) ?? 3
        let chunkSize = try arguments.int("chunk-size", in: (16 << 10)...(16 << 20)) ?? (1 << 20)
        let timeout = Double(try arguments.int("timeout", in: 1...86_400) ?? 300)
        let peer = try BlobCommandSupport.peer(arguments, in: environment, readOnly: !arguments.flag("serve"), replicas: replicas)
        defer { peer.stop() }
        let console = environment.console
        let started = Date()
        // Returns once the replicas hold verified copies (each answers only then).
        let (manifest, holders) = try peer.put(
            file: file, chunkSize: chunkSize, announceSelf: arguments.flag("serve"), timeout: timeout)
        if !arguments.flag("json") { console.print(manifest.id.hex) }
        let seconds = Date().timeIntervalSince(started)
        if arguments.flag("json") {
            console.printJSON(.object([
                "root": .string(manifest.id.hex), "size": .int(Int(manifest.size)), "chunks": .int(manifest.chunkHashes.count),
                "holders": .array(holders.map { .string($0.description) }),
                "seconds": .double(seconds), "endpoint": .string(peer.endpoint.description),
            ]))
        } else {
            console.note(
                "\(Format.mebibytes(Int64(manifest.size))) in \(manifest.chunkHashes.count) chunks; held by \(holders.count) other nodes (\(holders.map(\.description).joined(separator: ", ")))"
            )
        }
        if holders.count < replicas {
            console.note("warning: \(holders.count) of \(replicas) replicas placed; fewer Colony nodes answered")
        }
        if arguments.flag("serve") {
            console.note("serving on \(peer.endpoint); Ctrl-C stops")
            let stop = DispatchSemaphore(value: 0)
            let interrupts = InterruptHandler(onInterrupt: { stop.signal() }, console: console)
            defer { interrupts.remove() }
            stop.wait()
        }
        return replicas == 0 || !holders.isEmpty ? ExitStatus.success : ExitStatus.failure
    }
}

/// `colony blob get`.
enum BlobGetCommand: Command {
    static let description = CommandDescription(
        name: "get",
        abstract: "Fetch a blob from its holders and write it to a file",
        discussion: """
            Finds the holders in the DHT and pulls chunks from several at once, verifying each against the \
            manifest before writing it. A holder that sends bad bytes is dropped and named. Interrupted \
            fetches resume: verified chunks stay in the data directory's store.
            """,
        positionals: [PositionalDescription("HASH", help: "The blob's root hash (64 hex digits).")],
        options: [
            .value("output", "FILE", help: "Where to write the blob (required).", short: "o"), .bootstrap,
            .value("holder", "HOST:PORT", help: "Also fetch from this holder; repeat for more.", repeatable: true),
            .dataDir, .dhtHost, .dhtPort, .json,
        ],
        examples: ["colony blob get 3f…9a -o data.bin --bootstrap 127.0.0.1:6881"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let text = arguments.positionals.first else { throw UsageError("missing HASH", commandPath: arguments.commandPath) }
        guard let blob = BlobID(hex: text) else { throw InputError("HASH '\(text)' is not 64 hex digits") }
        guard let output = arguments.value("output") else {
            throw UsageError("missing -o FILE: where to write the blob", commandPath: arguments.commandPath)
        }
        let extra = try arguments.values("holder").map { try DHTCommandSupport.endpoint($0, option: "--holder") }
        let peer = try BlobCommandSupport.peer(arguments, in: environment, readOnly: true)
        defer { peer.stop() }
        let console = environment.console
        let json = arguments.flag("json")
        let bar = ProgressLine(console: console, enabled: !json && console.errorIsTerminal)
        let report = try peer.get(blob, to: URL(fileURLWithPath: output), extraHolders: extra) { progress in
            let rate = Double(progress.bytesDone) / max(progress.seconds, 0.001)
            bar.update(
                "\(Format.mebibytes(progress.bytesDone)) / \(Format.mebibytes(progress.bytesTotal))  "
                    + String(format: "%.1f MiB/s", rate / 1_048_576) + "  \(progress.activeHolders) holders")
        }
        bar.finish()
        if json {
            console.printJSON(.object([
                "root": .string(blob.hex), "file": .string(output), "size": .int(Int(report.size)),
                "seconds": .double(report.seconds), "chunksFetched": .int(report.chunksFetched),
                "chunksPresent": .int(report.chunksPresent), "wireBytes": .int(Int(report.wireBytes)),
                "holders": .object(Dictionary(uniqueKeysWithValues: report.chunksByHolder.map { ($0.key.description, JSONValue.int($0.value)) })),
                "badHolders": .object(Dictionary(uniqueKeysWithValues: report.badHolders.map { ($0.key.description, JSONValue.string($0.value)) })),
            ]))
        } else {
            let rate = Double(report.size) / max(report.seconds, 0.001) / 1_048_576
            console.note(
                "\(output): \(Format.mebibytes(report.size)) in \(String(format: "%.2f", report.seconds)) s (\(String(format: "%.0f", rate)) MiB/s) from \(report.chunksByHolder.count) holders"
                    + (report.chunksPresent > 0 ? "; \(report.chunksPresent) chunks were already here" : ""))
            for (holder, reason) in report.badHolders.sorted(by: { $0.key < $1.key }) {
                console.note("bad holder \(holder): \(reason); dropped")
            }
        }
        return ExitStatus.success
    }
}

/// `colony blob ls`.
enum BlobListCommand: Command {
    static let description = CommandDescription(
        name: "ls",
        abstract: "List the blobs in this data directory",
        options: [.dataDir, .json],
        examples: ["colony blob ls", "colony blob ls --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let folder = environment.dataDirectory(arguments).url.appendingPathComponent("blobs")
        let store = try BlobStore(folder: folder)
        let blobs = store.list().sorted { $0.id.hex < $1.id.hex }
        if arguments.flag("json") {
            environment.console.printJSON(.array(blobs.map { info in
                .object([
                    "root": .string(info.id.hex), "size": .int(Int(info.size)), "chunks": .int(info.chunkCount),
                    "pinned": .bool(info.pinned), "complete": .bool(info.complete),
                ])
            }))
        } else if blobs.isEmpty {
            environment.console.note("no blobs in \(folder.path)")
        } else {
            for info in blobs {
                let state = info.complete ? (info.pinned ? "pinned" : "cached") : "partial"
                environment.console.print("\(info.id.hex)  \(Format.mebibytes(info.size))  \(state)")
            }
        }
        return ExitStatus.success
    }
}

/// A progress line on the terminal, rewritten in place; silent when disabled.
final class ProgressLine: @unchecked Sendable {
    private let console: Console
    private let enabled: Bool
    private let lock = NSLock()
    private var shown = false

    init(console: Console, enabled: Bool) {
        self.console = console
        self.enabled = enabled
    }

    func update(_ text: String) {
        guard enabled else { return }
        lock.withLock {
            console.writeError("\r\u{1B}[2K" + text)
            shown = true
        }
    }

    func finish() {
        lock.withLock { if shown { console.writeError("\n") } }
    }
}
