import Colony
import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `colony bench suspend`: how soon a worker following `suspendAboveNonColonyCPU` stops its kernels when another
/// program starts using the CPU, and how soon it lets them go on once that program ends (issue 13, Must show:
/// Suspend when busy).
enum BenchSuspendCommand: Command {
    static let description = CommandDescription(
        name: "suspend",
        abstract: "Suspend when busy: delays from a CPU hog's start to kernels stopped, and from its end to resumed",
        discussion: """
            Runs a custodian peer and a worker in this process, the worker's kernels in kernel host processes as \
            'colony worker' runs them, on a mersenne job long enough to keep every core busy. The worker follows \
            suspendAboveNonColonyCPU (--threshold, hysteresis --hysteresis) and samples the machine every second \
            from /proc, as 'colony worker' does. Each round starts one busy-looping /bin/sh per core at normal \
            priority, times until every running kernel host is stopped (SIGSTOP), ends the hogs and times until \
            the kernels run again. Run it on an otherwise idle machine: other programs' CPU counts as a hog too.
            """,
        options: [
            .value("rounds", "N", help: "Hog rounds (default: 3)."),
            .value("threshold", "PCT", help: "suspendAboveNonColonyCPU (default: 50)."),
            .value("hysteresis", "PCT", help: "suspendHysteresis (default: 10)."),
            .json,
        ],
        examples: ["swift run -c release colony bench suspend", "colony bench suspend --rounds 5 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let rounds = try arguments.int("rounds", in: 1...100) ?? 3
        var preferences = DonorPreferences()
        preferences.suspendAboveNonColonyCPU = try arguments.int("threshold", in: 1...100) ?? 50
        preferences.suspendHysteresis = try arguments.int("hysteresis", in: 0...99) ?? 10
        guard preferences.suspendHysteresis < preferences.suspendAboveNonColonyCPU! else {
            throw UsageError("--hysteresis must be below --threshold", commandPath: arguments.commandPath)
        }
        guard let kernel = environment.registry.kernelType(named: "mersenne") else {
            throw InputError("the mersenne kernel is not compiled in; this benchmark runs it")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("colony-bench-suspend-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }

        // A custodian and the worker's own peer, on loopback, with the job in their custody.
        var peerConfiguration = ColonyPeer.Configuration()
        peerConfiguration.syncInterval = nil
        peerConfiguration.blobs.repairInterval = nil
        peerConfiguration.registry = environment.registry
        let node = try ColonyPeer(dataDirectory: folder.appendingPathComponent("node"), configuration: peerConfiguration)
        try node.start()
        defer { node.stop(handOff: false) }
        let host = try ColonyPeer(dataDirectory: folder.appendingPathComponent("worker"), configuration: peerConfiguration)
        try host.start()
        defer { host.stop(handOff: false) }
        host.join([node.endpoint], timeout: 10)
        node.join([host.endpoint], timeout: 10)
        let spec = JobSpec(
            kernel: kernel.name, title: "bench suspend",
            parameters: ["from": 20_000, "below": 60_000, "exponentsPerUnit": 20],
            redundancy: Redundancy(replicas: 1, quorum: 1, maxAttempts: 3), leaseSeconds: 3600, source: "bench")
        let members = [node, host].map { CustodianMember(key: $0.identity.publicKey, endpoint: $0.endpoint) }
        let manifest = try JobManifest.signed(
            spec: spec, kernelVersion: kernel.version, units: try kernel.init().units(for: spec.parameters),
            by: Identity(privateKey: Ed25519PrivateKey()), shardSize: 4,
            custody: { _, shards in JobCustody.same(members, shards: shards) })
        _ = try node.publish(manifest)

        var configuration = SwarmWorker.Configuration()
        configuration.kernels = KernelRegistry([kernel])
        configuration.cores = cores
        configuration.idleDiscoveryInterval = 0.2
        configuration.preferences = preferences
        configuration.isolation = try environment.isolation()
        let monitor = MachineMonitor(sources: MachineMonitor.Sources())
        configuration.machineSample = { monitor.sample() }
        let worker = SwarmWorker(peer: host, configuration: configuration)
        worker.start()
        defer { worker.stop(within: 5) }

        console.note("waiting for the worker to run a kernel on every core…")
        guard wait(60, until: { running(worker, held: false) == cores && !worker.allowance.isSuspended }) else {
            throw InputError(
                "the worker did not run \(cores) kernels unsuspended within 60 s (is the machine busy? "
                    + "non-Colony CPU must stay under \(preferences.suspendAboveNonColonyCPU!)%)")
        }
        var results: [(suspend: Double, resume: Double)] = []
        for round in 1...rounds {
            // Settle: the first samples after the kernels start must not count their start-up as another's.
            _ = wait(30, until: { !worker.allowance.isSuspended })
            var hogs: [pid_t] = []
            do {
                for _ in 0..<cores { hogs.append(try startHog()) }
            } catch {
                for hog in hogs { stopHog(hog) }
                throw error
            }
            let started = Date()
            let suspended = wait(60, until: { worker.allowance.isSuspended && running(worker, held: false) == 0 })
            let suspendDelay = Date().timeIntervalSince(started)
            for hog in hogs { stopHog(hog) }
            let ended = Date()
            let resumed = wait(60, until: { !worker.allowance.isSuspended && running(worker, held: false) > 0 })
            let resumeDelay = Date().timeIntervalSince(ended)
            guard suspended, resumed else {
                throw InputError(
                    "round \(round): the kernels were \(suspended ? "suspended but not resumed" : "not suspended") "
                        + "within 60 s")
            }
            results.append((suspendDelay, resumeDelay))
            if !arguments.flag("json") {
                console.print(
                    String(
                        format: "round %d: suspended %.2f s after the hogs started, resumed %.2f s after they ended",
                        round, suspendDelay, resumeDelay))
            }
        }
        let worst = (results.map(\.suspend).max() ?? 0, results.map(\.resume).max() ?? 0)
        let mean = (
            results.map(\.suspend).reduce(0, +) / Double(results.count),
            results.map(\.resume).reduce(0, +) / Double(results.count)
        )
        if arguments.flag("json") {
            console.printJSON(
                .object([
                    "cores": .int(cores), "threshold": .int(preferences.suspendAboveNonColonyCPU!),
                    "hysteresis": .int(preferences.suspendHysteresis),
                    "suspendSeconds": .array(results.map { .double($0.suspend) }),
                    "resumeSeconds": .array(results.map { .double($0.resume) }),
                ]))
        } else {
            console.print(
                String(
                    format: "%d cores, threshold %d%%, hysteresis %d: suspend mean %.2f s (worst %.2f), "
                        + "resume mean %.2f s (worst %.2f)",
                    cores, preferences.suspendAboveNonColonyCPU!, preferences.suspendHysteresis, mean.0, worst.0,
                    mean.1, worst.1))
        }
        return ExitStatus.success
    }

    /// Units on a core whose kernel is held (`held`) or running (`!held`).
    private static func running(_ worker: SwarmWorker, held: Bool) -> Int {
        worker.snapshot.running.values.filter { $0.held == held }.count
    }

    /// Polls `condition` every 20 ms for up to `seconds`: the benchmark times the worker from outside, as a donor
    /// watching it would; the polling interval bounds the error of each figure.
    private static func wait(_ seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date() + seconds
        while !condition() {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// A busy-looping shell at normal priority: another program's CPU use.
    private static func startHog() throws -> pid_t {
        var pid: pid_t = 0
        let words: [String] = ["/bin/sh", "-c", "while :; do :; done"]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let status = posix_spawn(&pid, "/bin/sh", nil, nil, argv, environ)
        guard status == 0 else { throw InputError("cannot start /bin/sh as a CPU hog: \(String(cString: strerror(status)))") }
        return pid
    }

    private static func stopHog(_ pid: pid_t) {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    }
}
