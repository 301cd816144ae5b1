import Colony
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// What the swarm commands share: making a peer from the command line and naming a job.
enum SwarmCommandSupport {
    /// A started peer for this data directory, joined through --bootstrap (and remembered nodes).
    static func peer(
        _ arguments: ParsedArguments, in environment: CommandEnvironment, oneShot: Bool, log: (@Sendable (String) -> Void)? = nil,
        blobQuota: Int64? = nil
    ) throws -> ColonyPeer {
        let directory = environment.dataDirectory(arguments)
        try directory.create()
        if !oneShot { try environment.claim(directory, for: arguments) }
        let udp = try DHTCommandSupport.udpConfiguration(arguments)
        var configuration = ColonyPeer.Configuration()
        configuration.registry = environment.registry
        configuration.oneShot = oneShot
        configuration.rendezvous = true
        configuration.blobs.quota = blobQuota
        if let network = arguments.value("network") {
            if let problem = Networks.problem(with: network) {
                throw UsageError("--network '\(network)' \(problem)", commandPath: arguments.commandPath)
            }
            configuration.network = network
        }
        if !oneShot {
            // Others dial it back before it takes custody or blobs (DESIGN.md, Networks).
            configuration.reachability = .checked
            configuration.localDiscovery = !arguments.flag("no-local-discovery")
            configuration.advertised = try arguments.value("advertise").map { try DHTCommandSupport.endpoint($0, option: "--advertise") }
        }
        if oneShot {
            configuration.blobs.dht = DHTCommandSupport.oneShotConfiguration()
            configuration.blobs.repairInterval = nil
            configuration.blobs.acceptsReplicas = false
            configuration.syncInterval = nil
        }
        let console = environment.console
        let peer = try ColonyPeer(
            dataDirectory: directory.url, host: udp.host, port: udp.port, configuration: configuration,
            log: log ?? { _ in })
        try peer.start()
        let seeds: [Endpoint]
        if oneShot {
            seeds = try DHTCommandSupport.seeds(arguments, in: environment)
        } else {
            seeds = try DHTCommandSupport.bootstrapEndpoints(arguments) + peer.blobs.node.rememberedNodes.map(\.endpoint)
        }
        if oneShot {
            if !seeds.isEmpty { try DHTCommandSupport.join(peer.blobs.node, through: seeds, timeout: 30, stop: { peer.stop() }) }
        } else if !seeds.isEmpty, peer.blobs.node.join(seeds, timeout: 30) == 0 {
            // A serving peer stays up: others may join through it, and it keeps trying its seeds.
            console.note("warning: cannot join the swarm: no answer from \(seeds.prefix(6).map(\.description).joined(separator: ", ")); others may join through \(peer.endpoint)")
            keepJoining(peer, through: seeds, console: console)
        }
        return peer
    }

    /// Tries to join through `seeds` again, 5 s after the last try and doubling up to 5 minutes, until the routing
    /// table has a node or the peer stops; says each try and the outcome.
    static func keepJoining(_ peer: ColonyPeer, through seeds: [Endpoint], console: Console, first delay: Double = 5) {
        let tried = seeds.prefix(6).map(\.description).joined(separator: ", ")
        Thread.detachNewThread {
            var delay = delay
            while peer.isRunning {
                console.note("no peer answered from \(tried); trying again in \(Int(delay)) s")
                let deadline = Date() + delay
                // Sleeps in quarter seconds: nothing signals this thread when the peer stops, and a stopped peer
                // must end the loop promptly rather than after up to 5 minutes.
                while peer.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.25) }
                guard peer.isRunning else { return }
                let known = peer.blobs.node.withNode { node, _ in (node.table.count, []) }
                if known > 0 {
                    console.note("joined the swarm: others reached this peer; \(known) nodes known")
                    return
                }
                let found = peer.blobs.node.join(seeds, timeout: 10)
                if found > 0 {
                    console.note("joined the swarm through \(tried): \(found) nodes known")
                    return
                }
                delay = min(delay * 2, 300)
            }
        }
    }

    static func job(_ arguments: ParsedArguments) throws -> JobID {
        guard let text = arguments.positionals.first else { throw UsageError("missing JOB", commandPath: arguments.commandPath) }
        guard text.count == 64, let job = try? JobID(hex: text) else {
            throw InputError("JOB '\(text)' is not a job ID (64 hex digits, as 'colony publish' printed it)")
        }
        return job
    }

    /// Waits for Ctrl-C.
    static func waitForInterrupt(_ console: Console, every seconds: Double = 1, _ tick: @escaping @Sendable () -> Void) {
        let stop = DispatchSemaphore(value: 0)
        let interrupts = InterruptHandler(onInterrupt: { stop.signal() }, console: console)
        defer { interrupts.remove() }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "colony.cli.tick"))
        timer.schedule(deadline: .now() + seconds, repeating: seconds)
        timer.setEventHandler(handler: tick)
        timer.resume()
        stop.wait()
        timer.cancel()
    }

    static func reportJSON(_ report: JobReport) -> [String: JSONValue] {
        [
            "job": .string(report.job.hex), "title": .string(report.manifest.title), "kernel": .string(report.manifest.kernel),
            "units": .int(report.verdicts.count), "validated": .int(report.validated), "failed": .int(report.failed),
            "inProgress": .int(report.inProgress), "waiting": .int(report.waiting), "attempts": .int(report.attempts),
            "invalid": .int(report.invalid), "records": .int(report.records), "badSignatures": .int(report.badSignatures),
            "unreachableShards": .array(report.unreachableShards.map { .int($0) }),
            "unreachablePriorShards": .array(
                report.unreachablePriorShards.map { .object(["job": .string($0.job.hex), "shard": .int($0.shard)]) }),
            "refusedRecords": .object(report.refused.mapValues { .int($0) }),
        ]
    }

    /// What the collection could not reach, and what it leaves open: shards of the job no custodian answered for,
    /// and shards of other jobs cited for workers' prior standing that could not be gathered.
    static func reachNotes(_ report: JobReport) -> [String] {
        var notes: [String] = []
        if !report.unreachableShards.isEmpty {
            notes.append("no custodian answered for shards \(report.unreachableShards.map(String.init).joined(separator: ", "))")
        }
        if !report.unreachablePriorShards.isEmpty {
            let jobs = Set(report.unreachablePriorShards.map(\.job)).sorted().map { String($0.hex.prefix(12)) }
            notes.append(
                "\(report.unreachablePriorShards.count) shards of jobs \(jobs.joined(separator: ", ")) cited for workers' prior standing "
                    + "could not be gathered: units run alone under those leases show as open; ask again later")
        }
        return notes
    }

    static func reportLine(_ report: JobReport) -> String {
        let total = max(1, report.verdicts.count)
        return "\(Format.bar(Double(report.validated) / Double(total))) \(report.validated)/\(report.verdicts.count) validated, "
            + "\(report.inProgress) in progress, \(report.failed) failed, \(report.attempts) attempts, \(report.invalid) invalid results"
    }
}

/// `colony node`.
enum NodeCommand: Command {
    static let description = CommandDescription(
        name: "node",
        abstract: "Run a peer that routes, stores blobs and keeps custody, but computes nothing",
        discussion: """
            Joins the DHT, holds blob replicas, and acts as custodian for the shards of any job whose key it is \
            among the closest Colony nodes to: it hands out leases, admits signed records and exchanges them with \
            the other custodians. It takes custody and blobs only once other peers have dialed it back on UDP \
            and TCP; until then, and for good when they cannot (behind a NAT), it works as a client. Runs until \
            Ctrl-C, then hands its records to the next closest nodes.
            """,
        options: [.dhtHost, .dhtPort, .bootstrap, .network, .advertise, .noLocalDiscovery, .dataDir, .jsonLines],
        examples: ["colony node --port 7000", "colony node --port 7001 --bootstrap 127.0.0.1:7000"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let log = EventLog(console: environment.console, json: arguments.flag("json"))
        let peer = try SwarmCommandSupport.peer(arguments, in: environment, oneShot: false) { line in
            log.emit("log", ["message": .string(line)], text: line)
        }
        log.emit(
            "listening", ["endpoint": .string(peer.endpoint.description), "key": .string(peer.identity.publicKey.hex)],
            text: "Colony node listening on \(peer.endpoint) (UDP and TCP); Ctrl-C stops")
        let last = ChangeDetector<Int>()
        SwarmCommandSupport.waitForInterrupt(environment.console, every: 5) {
            let stats = peer.statistics
            let shards = peer.custodian.ledgers.count
            let handled = stats.requests.values.reduce(0, +)
            if last.changed(handled) {
                log.emit(
                    "custody", ["shards": .int(shards), "requests": .int(handled), "rejected": .object(stats.rejected.mapValues { .int($0) })],
                    text: "custody of \(shards) shards; \(handled) requests; refused \(stats.rejected.values.reduce(0, +))")
            }
        }
        try? peer.blobs.node.save()
        peer.stop(within: 2)
        log.emit("stopped", [:], text: "stopped; records handed to the other custodians")
        return ExitStatus.success
    }
}


/// `colony worker`.
enum WorkerCommand: Command {
    static let description = CommandDescription(
        name: "worker",
        abstract: "Donate CPU: find jobs for the compiled-in kernels and compute their units",
        discussion: """
            Finds jobs announced for its kernels, leases units from their custodians, runs them on --cores \
            slots at low priority, commits seals and reveals outputs once a quorum of workers has sealed. On a \
            terminal it shows a live status; on a pipe it writes log lines. Ctrl-C stops the kernels (each saves \
            a checkpoint to DATA/worker), reveals the outputs it computed (their leases are ending), releases \
            its other leases so other workers take those units at once, and exits. A unit this worker is \
            leased again later resumes from its checkpoint. The peer also keeps custody like 'colony node'. \
            Kernels run in a child process per core: a unit that crashes or runs out of memory (--memory-limit) \
            ends in an error record, one still running when its lease ends is killed, and the worker goes on. \
            Checkpoints go to DATA/worker as the kernel takes them, so a unit survives a kill -9 of the worker too. \
            Cores, CPU %, the memory fraction and the allowed and blocked publishers and kernels come from the \
            donor's preferences (see 'colony config'); --cores and --cpu-limit override them. \
            A page at http://127.0.0.1:7396/ shows each core's unit and the counts, with Pause, Resume and \
            "Finish current units then pause"; /api/status is its JSON and /metrics Prometheus text.
            """,
        options: PreferenceOptions.flags + [
            .value("kernels", "a,b", help: "Only run these kernels (default: all compiled in)."),
            .value("checkpoint-every", "SECONDS", help: "Seconds between checkpoints of a running unit (default: 10)."),
            IsolationOptions.memoryLimit, IsolationOptions.inProcess,
            .value("web", "HOST:PORT", help: "Serve the donor's page here (default: 127.0.0.1:7396; port 0 picks one)."),
            .flag("no-web", help: "Serve no page."),
            .value(
                "web-token", "TOKEN",
                help: "Let other machines use the page with this token (16+ characters; or COLONY_WEB_TOKEN)."),
            .dhtHost, .dhtPort, .bootstrap, .network, .advertise, .noLocalDiscovery, .dataDir, .jsonLines,
        ],
        examples: [
            "colony worker --bootstrap 127.0.0.1:7000", "colony worker --cores 2 --cpu-limit 50 --kernels mersenne",
            "colony worker --web 0.0.0.0:7396 --web-token $(openssl rand -hex 16)",
        ]
    )

    static func chosenKernels(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> [any ComputeKernel.Type] {
        guard let list = arguments.value("kernels") else { return environment.registry.kernels }
        let names = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        if let unknown = names.first(where: { environment.registry.kernelType(named: $0) == nil }) {
            throw UsageError(
                "--kernels: '\(unknown)' is not compiled in; choose from \(environment.registry.names.joined(separator: ", "))",
                commandPath: arguments.commandPath)
        }
        return environment.registry.kernels.filter { names.contains($0.name) }
    }

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        var configuration = SwarmWorker.Configuration()
        let preferences = try PreferenceOptions.effective(arguments, in: environment).preferences
        // A slot per core the preferences allow at start; the preferences then decide how many compute at a time.
        // An edit can lower the cores at once, but raising them past this count waits for the next start: each
        // unit's memory limit is RAM × memoryFraction shared among these slots, and more slots would overcommit it.
        let cores = preferences.cores ?? ProcessInfo.processInfo.activeProcessorCount
        configuration.cores = cores
        configuration.cpuLimit = preferences.cpuPercent
        configuration.preferences = preferences
        let kernels = try chosenKernels(arguments, in: environment)
        configuration.kernels = KernelRegistry(kernels)
        configuration.stateFolder = try environment.dataDirectory(arguments).folder("worker")
        configuration.isolation = try IsolationOptions.isolation(
            arguments, cores: cores, in: environment,
            defaultMemoryLimit: preferences.unitMemoryLimit(
                physicalMemory: ProcessInfo.processInfo.physicalMemory, cores: cores))
        if let seconds = try arguments.int("checkpoint-every", in: 1...86_400) {
            configuration.checkpointInterval = Double(seconds)
        }
        let webConfiguration = try webConfiguration(arguments, in: environment)
        let json = arguments.flag("json")
        let live = !json && console.errorIsTerminal
        let log = EventLog(console: console, json: json)
        let bar = ProgressLine(console: console, enabled: live)
        let emit: @Sendable (String) -> Void = { line in
            if !live { log.emit("log", ["message": .string(line)], text: line) }
        }
        let peer = try SwarmCommandSupport.peer(
            arguments, in: environment, oneShot: false, log: emit,
            blobQuota: preferences.diskQuotaGB.map { Int64($0 * 1e9) })
        let monitor = machineMonitor(for: peer, in: environment.dataDirectory(arguments))
        configuration.machineSample = { monitor.sample() }
        let worker = SwarmWorker(peer: peer, configuration: configuration, log: emit)
        log.emit(
            "started", ["endpoint": .string(peer.endpoint.description), "cores": .int(cores), "kernels": .array(kernels.map { .string($0.name) })],
            text: "Colony worker on \(peer.endpoint): \(cores) core\(cores == 1 ? "" : "s") for \(kernels.map { $0.name }.joined(separator: ", ")); Ctrl-C stops")
        worker.start()
        let editor = PreferencesEditor(arguments, in: environment)
        let web = webConfiguration.flatMap { startWeb(worker, $0, preferences: editor, console: console, log: log) }
        let last = ChangeDetector<Int>()
        SwarmCommandSupport.waitForInterrupt(console, every: live ? 0.5 : 5) {
            let snapshot = worker.snapshot
            let stats = snapshot.statistics
            let slots = snapshot.running.sorted { $0.key < $1.key }.map { "core \($0.key): \($0.value.kernel) unit \($0.value.unit)" }
            let state = worker.state
            let suspensions = worker.allowance.suspensions
            let shown = state == .running && !suspensions.isEmpty
                ? "suspended (\(suspensions.map(\.text).joined(separator: "; "))) · "
                : state == .running ? "" : "\(state) · "
            let text = shown + "\(snapshot.jobs.count) jobs · computed \(stats.computed) · validated \(stats.validated) · invalid \(stats.invalid)"
                + " · refused \(stats.refused.values.reduce(0, +))" + (slots.isEmpty ? " · idle" : " · " + slots.joined(separator: ", "))
            if live {
                bar.update(text)
            } else if last.changed(stats.computed + stats.revealed + stats.validated + stats.invalid) {
                log.emit(
                    "status",
                    [
                        "jobs": .int(snapshot.jobs.count), "computed": .int(stats.computed), "revealed": .int(stats.revealed),
                        "validated": .int(stats.validated), "invalid": .int(stats.invalid), "running": .int(slots.count),
                        "state": .string(state.name),
                    ],
                    text: text)
            }
        }
        bar.finish()
        web?.stop()
        console.note("stopping: saving checkpoints, revealing finished units, releasing leases…")
        // Ctrl-C is answered within 3 s, whoever does not answer: leases not given back by then expire.
        if !worker.stop(within: 1.6) {
            console.note("stopping without waiting longer for custodians that do not answer; their leases expire")
        }
        try? peer.blobs.node.save()
        peer.stop(within: 0.5)
        let stats = worker.snapshot.statistics
        log.emit(
            "stopped",
            [
                "computed": .int(stats.computed), "revealed": .int(stats.revealed), "released": .int(stats.released),
                "checkpoints": .int(stats.checkpointsSaved), "resumed": .int(stats.resumed),
                "validated": .int(stats.validated), "invalid": .int(stats.invalid),
            ],
            text: "stopped: computed \(stats.computed) units (\(stats.resumed) from checkpoints), revealed \(stats.revealed) "
                + "(\(stats.validated) validated, \(stats.invalid) invalid), released \(stats.released) leases, saved \(stats.checkpointsSaved) checkpoints")
        return ExitStatus.interrupted
    }
}

extension WorkerCommand {
    /// What the worker's preferences watch: this process's CPU against the machine's, input devices, the peer's
    /// network bytes (UDP, and TCP both ways) with today's count kept in `DATA/worker/network-today.json`, and the
    /// size of the blobs, custody records and checkpoints.
    static func machineMonitor(for peer: ColonyPeer, in directory: DataDirectory) -> MachineMonitor {
        var sources = MachineMonitor.Sources()
        sources.networkBytes = { [peer] in
            let udp = peer.blobs.node.runtime.statistics
            let tcp = peer.blobs.server?.frames.statistics ?? FrameServerStatistics()
            let total =
                udp.bytesReceived + udp.bytesSent + tcp.bytesIn + tcp.bytesOut
                + FrameConnection.bytesSent.load(ordering: .relaxed)
                + FrameConnection.bytesReceived.load(ordering: .relaxed)
            return UInt64(max(0, total))
        }
        sources.diskFolders = ["blobs", "custody", "worker"].map { directory.url.appendingPathComponent($0) }
        sources.networkFile = directory.url.appendingPathComponent("worker").appendingPathComponent("network-today.json")
        return MachineMonitor(sources: sources)
    }

    /// The page's configuration from --web, --no-web and --web-token (or COLONY_WEB_TOKEN); nil with --no-web.
    static func webConfiguration(
        _ arguments: ParsedArguments, in environment: CommandEnvironment
    ) throws -> HTTPServerConfiguration? {
        guard !arguments.flag("no-web") else { return nil }
        var configuration = HTTPServerConfiguration()
        if let address = arguments.value("web") {
            guard let given = HTTPServerConfiguration(address: address) else {
                throw UsageError(
                    "--web '\(address)' is not HOST:PORT with an IPv4 HOST (127.0.0.1, 0.0.0.0) or localhost",
                    commandPath: arguments.commandPath)
            }
            configuration = given
        }
        configuration.access.token = arguments.value("web-token") ?? environment.variables["COLONY_WEB_TOKEN"]
        do {
            try configuration.validate()
        } catch {
            throw UsageError("--web-token: \(error.message)", commandPath: arguments.commandPath)
        }
        return configuration
    }

    /// Starts the page, which edits the preferences `preferences` reads and writes, and says where it is; a taken
    /// port is said and the worker goes on without the page.
    static func startWeb(
        _ worker: SwarmWorker, _ configuration: HTTPServerConfiguration, preferences: PreferencesEditor,
        console: Console, log: EventLog
    ) -> WorkerWebServer? {
        let web = WorkerWebServer(worker: worker, configuration: configuration, preferences: preferences)
        do {
            try web.start()
        } catch {
            console.note(
                "warning: no page for this worker (it computes without one): \(error.message); "
                    + "choose another port with --web 127.0.0.1:PORT, or --no-web")
            return nil
        }
        log.emit("web", ["url": .string(web.url)], text: "Worker page: \(web.url)")
        return web
    }
}

/// `colony publish`.
enum PublishCommand: Command {
    static let description = CommandDescription(
        name: "publish",
        abstract: "Publish a job spec to the swarm and print its job ID",
        discussion: """
            Splits the spec into units with its kernel (which must be compiled in), signs the manifest with this \
            data directory's key, stores it as a blob, and hands it to the job's custodians, who keep it and \
            announce it under the kernel's topic so that workers find it. Returns once they hold it; the job \
            then lives without this command.
            """,
        positionals: [PositionalDescription("SPEC", help: "A job spec (JSON), like Workunits/mersenne-10k.json.")],
        options: [
            .value("shard-size", "N", help: "Units per custody shard (default: up to 128)."),
            .bootstrap, .network, .dhtHost, .dhtPort, .dataDir, .json,
        ],
        examples: ["colony publish Workunits/mersenne-10k.json --bootstrap 127.0.0.1:7000"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        guard let path = arguments.positionals.first else { throw UsageError("missing SPEC", commandPath: arguments.commandPath) }
        let spec = try JobSpec.load(from: URL(fileURLWithPath: path), displayPath: path)
        let prepared = try PreparedJob(spec: spec, registry: environment.registry)
        let shardSize = try arguments.int("shard-size", in: JobPolicy.shardLimits)
        let directory = environment.dataDirectory(arguments)
        try directory.create()
        _ = try Identity.loadOrCreate(in: directory)
        let peer = try SwarmCommandSupport.peer(arguments, in: environment, oneShot: true)
        defer { peer.stop() }
        // Each shard's custodians are the closest Colony nodes that accept; inputs over 16 KiB become blobs held
        // by the closest Colony nodes before the manifest names them.
        let manifest: JobManifest
        do {
            manifest = try peer.signJob(
                spec: spec, kernelVersion: type(of: prepared.kernel).version, units: prepared.units, shardSize: shardSize)
        } catch let error as ManifestError {
            throw DHTFailure("\(error.description); is a 'colony node' or 'colony worker' running?")
        }
        let (job, holders) = try peer.publish(manifest)
        if arguments.flag("json") {
            environment.console.printJSON(.object([
                "job": .string(job.hex), "units": .int(manifest.units.count), "shards": .int(manifest.shardCount),
                "custodians": .array(holders.map { .string($0.description) }), "root": .string(peer.root(of: job)?.hex ?? ""),
            ]))
        } else {
            environment.console.print(job.hex)
            environment.console.note(
                "\(manifest.title): \(manifest.units.count) units in \(manifest.shardCount) shards; manifest held by \(holders.map(\.description).joined(separator: ", "))")
        }
        return ExitStatus.success
    }
}

/// `colony status`.
enum StatusCommand: Command {
    static let description = CommandDescription(
        name: "status",
        abstract: "Show a job's units: validated, in progress and failed",
        discussion: "Reads the records from each shard's custodians and recomputes every verdict.",
        positionals: [PositionalDescription("JOB", help: "The job ID 'colony publish' printed.")],
        options: [
            .flag("watch", help: "Refresh every 2 seconds until the job is done or Ctrl-C."),
            .value("timeout", "S", help: "With --watch, give up after S seconds and exit 1 (default: no limit)."),
            .value(
                "web", "HOST:PORT",
                help: "Serve a job page there until Ctrl-C, refreshed every 2 seconds: progress, units, workers and, "
                    + "for mandelbrot, the picture so far. Only this machine may open it unless --web-token is set."),
            .value("web-token", "TOKEN", help: "Let any machine open the --web page with ?token=TOKEN (16+ characters)."),
            .bootstrap, .network, .dhtHost, .dhtPort, .dataDir, .json,
        ],
        examples: [
            "colony status 5e…c1 --bootstrap 127.0.0.1:7000", "colony status 5e…c1 --watch",
            "colony status 5e…c1 --web 127.0.0.1:7397",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let job = try SwarmCommandSupport.job(arguments)
        let web = try webConfiguration(arguments)
        let peer = try SwarmCommandSupport.peer(arguments, in: environment, oneShot: true)
        defer { peer.stop() }
        if let web { return try serveJobPage(job, on: web, via: peer, in: environment) }
        let console = environment.console
        let json = arguments.flag("json")
        let bar = ProgressLine(console: console, enabled: !json && console.errorIsTerminal && arguments.flag("watch"))
        let limit = try arguments.int("timeout", in: 1...864_000).map { Date() + Double($0) }
        var report = try JobCollector.collect(job, via: peer, registry: environment.registry)
        if arguments.flag("watch") {
            while !report.complete {
                if let limit, Date() > limit {
                    bar.finish()
                    console.note("gave up after --timeout: " + SwarmCommandSupport.reportLine(report))
                    return ExitStatus.failure
                }
                bar.update(SwarmCommandSupport.reportLine(report))
                if !console.errorIsTerminal && !json { console.note(SwarmCommandSupport.reportLine(report)) }
                // A refresh interval for a person watching; the custodians are asked again each time.
                Thread.sleep(forTimeInterval: 2)
                // Each custodian gets 3 s and one try: a refresh comes on time even while one is cut off (the next
                // refresh asks it again).
                report = try JobCollector.collect(job, via: peer, registry: environment.registry, timeout: 3, attempts: 1)
            }
            bar.finish()
        }
        if json {
            console.printJSON(.object(SwarmCommandSupport.reportJSON(report)))
        } else {
            console.print("\(report.manifest.title) (\(report.manifest.kernel), job \(report.job.hex.prefix(16))…)")
            console.print(SwarmCommandSupport.reportLine(report))
            for note in SwarmCommandSupport.reachNotes(report) { console.print(note) }
        }
        return ExitStatus.success
    }
}

/// `colony results`.
enum ResultsCommand: Command {
    static let description = CommandDescription(
        name: "results",
        abstract: "Re-verify a job from its signed records, then assemble its result",
        discussion: """
            Fetches the manifest and checks its hash and signature; reads every shard's records from the \
            custodians and checks every signature; recomputes every quorum; checks each validated output \
            against its digest; then lets the kernel assemble the outputs into --out and prints the summary. \
            Every record passes the checks a custodian makes: each lease must be signed by a custodian of its \
            shard, by the chain of custodian sets from the publisher's manifest; a unit counts only when its \
            agreeing replicas were leased by distinct custodians to workers on distinct networks, each sealed \
            before any revealed. Records that fail are counted by reason. --units shows, per unit, which \
            custodians and networks vouch for it. Exit 1 while units are not all validated.
            """,
        positionals: [PositionalDescription("JOB", help: "The job ID.")],
        options: [
            .value("out", "DIR", help: "Where to write the assembled result (default: ./results-JOB)."),
            .flag("units", help: "Show each unit's state and the custodians and networks that vouch for it."),
            .flag(
                "verify",
                help: "Also check every validated output with the kernel's cheap check, where it has one (collatz, mandelbrot); exit 1 if one fails."),
            .bootstrap, .network, .dhtHost, .dhtPort, .dataDir, .json,
        ],
        examples: [
            "colony results 5e…c1 --out mersenne --bootstrap 127.0.0.1:7000", "colony results 5e…c1 --units --json",
            "colony results 5e…c1 --verify",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let job = try SwarmCommandSupport.job(arguments)
        let peer = try SwarmCommandSupport.peer(arguments, in: environment, oneShot: true)
        defer { peer.stop() }
        let console = environment.console
        let report = try JobCollector.collect(job, via: peer, registry: environment.registry)
        var object = SwarmCommandSupport.reportJSON(report)
        if arguments.flag("units") {
            let prefix = report.manifest.policy.ipv4Prefix
            object["units"] = .array(report.verdicts.map { Self.unitJSON($0, prefix: prefix) })
            if !arguments.flag("json") {
                for verdict in report.verdicts { console.print(Self.unitLine(verdict, prefix: prefix)) }
            }
        }
        guard report.validated == report.verdicts.count else {
            if arguments.flag("json") { console.printJSON(.object(object)) }
            console.note("not every unit is validated: " + SwarmCommandSupport.reportLine(report))
            for note in SwarmCommandSupport.reachNotes(report) { console.note(note) }
            return ExitStatus.failure
        }
        if arguments.flag("verify") {
            let checks = try verifyOutputs(report, via: peer, registry: environment.registry)
            object["verified"] = .object([
                "passed": .int(checks.passed), "failed": .array(checks.failed.map { .int($0) }),
                "unchecked": .int(checks.unchecked),
            ])
            guard checks.failed.isEmpty else {
                if arguments.flag("json") { console.printJSON(.object(object)) }
                console.note(
                    "\(checks.failed.count) validated outputs fail the kernel's check (units "
                        + checks.failed.prefix(20).map(String.init).joined(separator: ", ")
                        + "): the quorum that validated them agreed on a wrong result")
                return ExitStatus.failure
            }
            if !arguments.flag("json") {
                console.note(
                    checks.unchecked == report.verdicts.count
                        ? "--verify: the \(report.manifest.kernel) kernel has no cheap check; nothing more was checked"
                        : "--verify: \(checks.passed) validated outputs pass the kernel's check")
            }
        }
        let out = URL(fileURLWithPath: arguments.value("out") ?? "results-\(job.hex.prefix(12))")
        let summary = try JobCollector.assemble(report, registry: environment.registry, into: out)
        object["summary"] = .object(summary.values)
        object["files"] = .array(summary.files.map { .string($0.path) })
        object["out"] = .string(out.path)
        if arguments.flag("json") {
            console.printJSON(.object(object))
        } else {
            console.print("\(report.manifest.title): \(summary.headline)")
            let refused = report.refused.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            console.note(
                "re-verified \(report.records) signed records and \(report.validated) independent quorums; \(report.invalid) invalid results were outvoted"
                    + (refused.isEmpty ? "" : "; records refused: \(refused)") + "; written to \(out.path)")
        }
        return ExitStatus.success
    }

    /// Checks each validated output against its input with the kernel's `verify`: units that pass, units that fail,
    /// and units the kernel cannot check cheaply. Inputs kept as blobs are fetched.
    static func verifyOutputs(
        _ report: JobReport, via peer: ColonyPeer, registry: KernelRegistry
    ) throws -> (passed: Int, failed: [Int], unchecked: Int) {
        guard let kernel = registry.kernel(named: report.manifest.kernel) else {
            throw InputError("the \(report.manifest.kernel) kernel is not compiled in; it is needed to check its outputs")
        }
        var passed = 0
        var failed: [Int] = []
        var unchecked = 0
        for verdict in report.verdicts {
            guard let output = verdict.output, report.manifest.units.indices.contains(verdict.unit) else { continue }
            let input: Data
            switch report.manifest.units[verdict.unit] {
            case .inline(let bytes): input = Data(bytes)
            case .blob(let root, let size): input = try peer.fetchInput(root: root, size: size)
            }
            switch kernel.verify(input: input, output: Data(output)) {
            case true?: passed += 1
            case false?: failed.append(verdict.unit)
            case nil: unchecked += 1
            }
        }
        return (passed, failed, unchecked)
    }

    /// A network as text: "10.1.2.0/24" for an IPv4 network, the worker key's start when the rule is off.
    static func networkText(_ network: [UInt8], prefix: Int) -> String {
        switch network.count {
        case 4: return network.map(String.init).joined(separator: ".") + "/\(prefix)"
        case 32: return "worker " + network.prefix(6).map { String(format: "%02x", $0) }.joined()
        default: return network.map { String(format: "%02x", $0) }.joined()
        }
    }

    static func unitJSON(_ verdict: UnitVerdict, prefix: Int) -> JSONValue {
        .object([
            "unit": .int(verdict.unit), "state": .string(verdict.state.rawValue), "attempts": .int(verdict.attempts),
            "custodians": .array(verdict.custodians.map { .string($0.hex) }),
            "networks": .array(verdict.networks.map { .string(networkText($0, prefix: prefix)) }),
            "agreeing": .int(verdict.agreeing.count), "invalid": .int(verdict.invalid.count),
        ])
    }

    static func unitLine(_ verdict: UnitVerdict, prefix: Int) -> String {
        var line = "unit \(verdict.unit): \(verdict.state.rawValue), \(verdict.attempts) attempts"
        if verdict.state == .validated {
            let pairs = zip(verdict.custodians, verdict.networks).map { "custodian \($0.hex.prefix(12)) → \(networkText($1, prefix: prefix))" }
            line += "; vouched by " + pairs.joined(separator: ", ")
        }
        if !verdict.invalid.isEmpty { line += "; \(verdict.invalid.count) invalid" }
        return line
    }
}
