import Colony
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation
import Synchronization

/// `colony bench adaptive`: what adaptive replication saves and what it lets through (issue 14).
enum BenchAdaptiveCommand: Command {
    static let description = CommandDescription(
        name: "adaptive",
        abstract: "Measure adaptive replication: CPU beyond one run per unit, wall time, and adversaries caught",
        discussion: """
            Runs swarms of --peers peers in this process, each on a loopback network of its own, on --units tally \
            units (or the job of --spec): first with every unit replicated (replicas 2, quorum 2), then with \
            adaptive replication (a worker with 10 consecutive valid results in a shard runs its units once, \
            spot-checked at max(1%, 1/n), or --min-spot-check), then adaptive against each adversary: a sleeper (honest for 100 units, \
            then cheating), a careful sleeper (the same, but honest on the last unit it computes in each shard, \
            which it holds back until the shard has no more for it), 10% colluders (at least 2) returning one agreed wrong output, and Sybil churn (a \
            cheater that comes back with a new key each time it is caught). occasional, run only when named, is a \
            sleeper that once awake cheats on 5% of its units at random: each cheat is checked only by its own draw \
            (1 in n), and a later check it passes clears it, so most of its cheats stand (SECURITY.md, Known limits). peeker, \
            run only when named, is a sleeper that keeps back every cheat it learns is checked (it is not told to \
            reveal alone once it has sealed), which counts as a failed check; each unit it keeps back waits two lease \
            periods for others; occasional-peeker is both (what peeking adds to an occasional cheater). vanish, run only \
            when named, is trusted with a host that vanishes: once half the units are decided, an honest worker's \
            peer, with whatever custody it held, is gone without a word (as kill -9), with leases in flight and \
            results sealed and not revealed; recomputed counts the units where its result did not count. trusted runs the job replicated first (--warm-up times) \
            and then adaptive on the same swarm, reporting the second: workers bring the standing they earned \
            (leases cite the shards where they earned it). trusted-colluders does the same with the colluders in \
            the swarm: they join a swarm whose honest workers are trusted, where custodians never pair two \
            untrusted workers on a unit; colluders among new keys only (colluders) can still get both replicas of \
            a unit before anyone is trusted, which is computed again by a fresh quorum once one is outvoted in \
            the shard and the other is outvoted too or agreed with nobody else. Every validated output is \
            computed again here.

            overhead is the units computed beyond one per unit, over the units; wrong is validated outputs that \
            are not what the kernel computes; cheated is units the adversaries returned a wrong output for; \
            recomputed is units where the adversary's result did not count and others computed the unit instead. \
            With --spec, local is the job computed here on every core; CPU overhead weighs each run of a unit by \
            the CPU time the unit took here (units of a real kernel differ in cost), and the last column is the \
            swarm's wall time over local.

            Custodians check each result run alone with the kernel's cheap check, where it has one (collatz and \
            mandelbrot; tally and mersenne have none), and a result that fails is a failed check at once. With \
            adversaries, the job is looked at once a second while it runs: stood counts the units seen validated \
            with a wrong output at some look (voided later, or counted in wrong): what a publisher collecting \
            midway could have taken. refuted counts the units whose result run alone the check turned down as it \
            came in. --no-verify turns the check off (spec field redundancy.verifyAlone), to measure what it saves.

            A custodian that leases a worker without trust looks it up under its evidence key and counts the checks             it passed in jobs of the same kernel and publisher kept elsewhere; --no-prior-lookup counts only the             shards each custodian keeps, to measure what the lookup brings (trusted runs of more peers than a             shard's 3 custodians).
            """,
        options: [
            .value("units", "N", help: "Tally units per job (default: 20000)."),
            .value("peers", "N", help: "Peers per swarm (default: 8)."),
            .value("spec", "FILE", help: "Run this job spec instead of tally units (e.g. Workunits/mersenne-10k.json)."),
            .value("min-spot-check", "PERCENT", help: "The spot-check rate a trusted worker never goes below, in percent (default: the spec's, 1)."),
            .value("lease", "SECONDS", help: "Lease length of the jobs (default: the spec's, or 60 for tally units); short leases run out under load."),
            .value("warm-up", "JOBS", help: "Replicated jobs the workers compute before a trusted run, each adding to the standing they bring (default: 1)."),
            .flag("no-verify", help: "Do not check results run alone with the kernel's check (redundancy.verifyAlone false)."),
            .flag("no-prior-lookup", help: "Custodians count a worker's earlier trust only from the shards they keep (no evidence-key lookup)."),
            .value("scenarios", "LIST", help: "Which runs, comma-separated (default: replicated,adaptive,trusted,sleeper,careful-sleeper,colluders,trusted-colluders,churn; also occasional, peeker, occasional-peeker, vanish)."),
            .json,
        ],
        examples: [
            "colony bench adaptive", "colony bench adaptive --units 4000 --scenarios adaptive,sleeper --json",
            "colony bench adaptive --scenarios occasional --min-spot-check 10",
            "colony bench adaptive --spec Workunits/mersenne-10k.json --peers 2 --scenarios replicated,adaptive",
            "colony bench adaptive --spec Workunits/mersenne-10k.json --peers 2 --scenarios trusted --warm-up 4",
            "colony bench adaptive --spec Workunits/collatz-4e7.json --scenarios sleeper,careful-sleeper --no-verify",
        ]
    )

    /// The scenarios run when --scenarios is not given (and by `colony demo --adaptive`).
    static let allScenarios = [
        "replicated", "adaptive", "trusted", "sleeper", "careful-sleeper", "colluders", "trusted-colluders", "churn",
    ]

    /// Scenarios run only when named: occasional, an adversary the rules do not stop, measured for SECURITY.md's
    /// known limits; peeker and occasional-peeker, whose withheld units wait two lease periods each for others
    /// (minutes at the bench's 60 s leases); vanish, a fault rather than an adversary, whose held units wait out their
    /// leases.
    static let limitScenarios = ["occasional", "peeker", "occasional-peeker", "vanish"]

    /// The share of its units the occasional cheater cheats on once awake.
    static let occasionalCheatRate = 0.05

    /// Colluders among `peers`: 10 %, and never fewer than 2 (one alone is a lone cheater, not collusion).
    static func colluders(among peers: Int) -> Int { max(2, peers / 10) }

    struct Row {
        var scenario: String
        var units: Int
        var computed: Int
        var single: Int
        var seconds: Double
        var wrong: Int
        var recomputed: Int
        /// Units seen validated with a wrong output at a look while the job ran (voided later, or counted in `wrong`).
        var stood: Int
        /// Results run alone that the kernel's check turned down as they came in.
        var refuted: Int
        var adversaries: Int
        /// Units the adversaries returned a wrong output for.
        var cheated: Int
        var validated: Int
        /// With --spec: the CPU spent beyond one run per unit, over one run of every unit. Each seal committed for a
        /// unit is one run of it, weighed by the unit's CPU time measured here (`localRun`).
        var cpuOverhead: Double?
        /// With the credit check: each worker's standing as two observers computed it, each from the records alone.
        var credit: Credit?
        /// Walks of a shard's records for its adaptive state in the run (all peers and the observers), and their
        /// time summed over threads (`ShardLedger.walks`).
        var walks = 0
        var walkSeconds = 0.0

        typealias Credit = (first: [Ed25519PublicKey: WorkerStanding], second: [Ed25519PublicKey: WorkerStanding])

        var overhead: Double { Double(computed - units) / Double(max(1, units)) }
    }

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        var scenarios: [String] = []
        for part in (arguments.value("scenarios") ?? allScenarios.joined(separator: ",")).split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard (allScenarios + limitScenarios).contains(name) else {
                throw UsageError(
                    "--scenarios takes a comma-separated list of \((allScenarios + limitScenarios).joined(separator: ", ")); got '\(name)'",
                    commandPath: arguments.commandPath)
            }
            scenarios.append(name)
        }
        let rows = try measure(arguments, in: environment, scenarios: scenarios, defaultUnits: 20_000, checkCredit: false)
        return rows.allSatisfy({ $0.validated == $0.units }) ? ExitStatus.success : ExitStatus.failure
    }

    /// Runs `scenarios` on the job of --spec or of --units tally units, on --peers peers, and prints the table (or
    /// the JSON). With `checkCredit`, the adaptive run's credit is also computed by two observers (`colony demo
    /// --adaptive`).
    static func measure(
        _ arguments: ParsedArguments, in environment: CommandEnvironment, scenarios: [String], defaultUnits: Int, checkCredit: Bool
    ) throws -> [Row] {
        let console = environment.console
        let json = arguments.flag("json")
        let peers = try arguments.int("peers", in: 2...64) ?? 8
        let warmUp = try arguments.int("warm-up", in: 1...20) ?? 1
        var spec: JobSpec
        let registry: KernelRegistry
        let inputs: [Data]
        var local: LocalBaseline?
        // Each unit's right output, to tell a wrong one validated while the job runs.
        let expected: [Data]
        if let path = arguments.value("spec") {
            spec = try JobSpec.load(from: URL(fileURLWithPath: path), displayPath: path)
            registry = environment.registry
            guard let kernel = registry.kernel(named: spec.kernel) else {
                throw InputError("\(path): kernel '\(spec.kernel)' is not one this colony has; see colony kernels")
            }
            inputs = try kernel.units(for: spec.parameters)
            let baseline = try localRun(kernel, inputs)
            local = baseline
            expected = baseline.outputs
        } else {
            let units = try arguments.int("units", in: 10...200_000) ?? defaultUnits
            spec = JobSpec(
                kernel: TallyKernel.name, title: "\(units) tally units", parameters: ["units": .int(units)],
                redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 10), leaseSeconds: 60, source: "bench adaptive")
            registry = KernelRegistry([TallyKernel.self])
            inputs = try TallyKernel().units(for: spec.parameters)
            expected = try inputs.enumerated().map { try TallyKernel().run($1, context: KernelContext(unit: $0)) }
        }
        if let percent = try arguments.int("min-spot-check", in: 1...100) { spec.redundancy.minSpotCheck = Double(percent) / 100 }
        if arguments.flag("no-verify") { spec.redundancy.verifyAlone = false }
        if let seconds = try arguments.int("lease", in: 5...86_400) { spec.leaseSeconds = seconds }
        spec.redundancy.replicas = 2
        spec.redundancy.quorum = 2
        spec.redundancy.maxAttempts = max(10, spec.redundancy.maxAttempts)
        if !json {
            console.print(
                "\(inputs.count) units of \(spec.kernel), \(peers) peers"
                    + (local.map { String(format: "; local %.2f s, %.2f CPU s", $0.seconds, $0.cpuSeconds) } ?? ""))
            console.print(
                "scenario           computed  overhead  run once  wall s   wrong  adversaries  cheated  recomputed  stood  refuted"
                    + (local == nil ? "" : "  CPU overhead  swarm/local"))
        }
        var rows: [Row] = []
        for scenario in scenarios {
            var adaptiveSpec = spec
            adaptiveSpec.redundancy.adaptive = scenario != "replicated"
            let row = try runScenario(
                scenario, spec: adaptiveSpec, inputs: inputs, expected: expected, peers: peers, registry: registry, console: console,
                local: local, warmUp: warmUp, checkCredit: checkCredit && scenario == "adaptive",
                priorLookups: !arguments.flag("no-prior-lookup"))
            rows.append(row)
            if !json {
                var line = String(
                    format: "%@ %9d  %7.1f %%  %7.1f %%  %6.2f  %6d  %11d  %7d  %10d  %5d  %7d", scenario.padding(toLength: 17, withPad: " ", startingAt: 0),
                    row.computed, row.overhead * 100, Double(row.single) * 100 / Double(max(1, row.units)), row.seconds, row.wrong,
                    row.adversaries, row.cheated, row.recomputed, row.stood, row.refuted)
                if let local, let cpuOverhead = row.cpuOverhead {
                    line += String(format: "  %10.1f %%  %10.2f×", cpuOverhead * 100, row.seconds / local.seconds)
                }
                console.print(line)
                if row.walks > 0 { console.print(String(format: "  (%d walks of shard records, %.1f s in them summed over threads)", row.walks, row.walkSeconds)) }
            }
        }
        if json {
            console.printJSON(
                .object([
                    "units": .int(inputs.count), "peers": .int(peers), "kernel": .string(spec.kernel),
                    "localSeconds": local.map { .double($0.seconds) } ?? .null,
                    "localCPUSeconds": local.map { .double($0.cpuSeconds) } ?? .null,
                    "results": .array(
                        rows.map { row in
                            var object: [String: JSONValue] = [
                                "scenario": .string(row.scenario), "computed": .int(row.computed), "overhead": .double(row.overhead),
                                "runOnce": .int(row.single), "seconds": .double(row.seconds), "wrongValidated": .int(row.wrong),
                                "adversaries": .int(row.adversaries), "cheated": .int(row.cheated), "recomputed": .int(row.recomputed),
                                "stood": .int(row.stood), "refuted": .int(row.refuted), "validated": .int(row.validated),
                                "walks": .int(row.walks), "walkSeconds": .double(row.walkSeconds),
                            ]
                            if let cpuOverhead = row.cpuOverhead { object["cpuOverhead"] = .double(cpuOverhead) }
                            if let credit = row.credit {
                                object["creditWorkers"] = .int(credit.first.count)
                                object["creditAgrees"] = .bool(credit.first == credit.second)
                            }
                            return .object(object)
                        }),
                ]))
        }
        return rows
    }

    /// The job computed here once: its wall time on every core, and each unit's CPU time.
    struct LocalBaseline {
        var seconds: Double
        var unitCPU: [Double]
        /// Each unit's output, computed here.
        var outputs: [Data]
        var cpuSeconds: Double { unitCPU.reduce(0, +) }
    }

    /// The job computed here, every unit once, on every core: what the swarm is compared with. Each unit's CPU time
    /// is its thread's, so that the other units running meanwhile do not count.
    static func localRun(_ kernel: any ComputeKernel, _ inputs: [Data]) throws -> LocalBaseline {
        let started = Date()
        let failures = Mutex(0)
        let unitCPU = Mutex([Double](repeating: 0, count: inputs.count))
        let outputs = Mutex([Data](repeating: Data(), count: inputs.count))
        DispatchQueue.concurrentPerform(iterations: inputs.count) { index in
            let before = threadCPUSeconds()
            let output = try? kernel.run(inputs[index], context: KernelContext(unit: index))
            let spent = threadCPUSeconds() - before
            if output == nil { failures.withLock { $0 += 1 } }
            unitCPU.withLock { $0[index] = spent }
            outputs.withLock { $0[index] = output ?? Data() }
        }
        guard failures.withLock({ $0 }) == 0 else { throw BenchmarkError("the kernel failed on some units here") }
        return LocalBaseline(seconds: Date().timeIntervalSince(started), unitCPU: unitCPU.withLock { $0 }, outputs: outputs.withLock { $0 })
    }

    /// The CPU time of the calling thread so far.
    static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    static func runScenario(
        _ scenario: String, spec: JobSpec, inputs: [Data], expected: [Data]? = nil, peers: Int, registry: KernelRegistry, console: Console,
        local: LocalBaseline? = nil, warmUp: Int = 1, checkCredit: Bool = false, priorLookups: Bool = true
    ) throws -> Row {
        let folder = try SwarmRun.temporaryFolder("bench-adaptive")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = peers
        options.registry = registry
        options.revealPollInterval = 0.05
        options.priorLookups = priorLookups
        switch scenario {
        case "sleeper": options.sleepers = 1
        case "careful-sleeper":
            options.sleepers = 1
            options.sleeperBehaviour = .carefulSleeper
        case "peeker", "occasional-peeker":
            options.sleepers = 1
            options.sleeperBehaviour = .peeker
            if scenario == "occasional-peeker" { options.sleeperCheatRate = occasionalCheatRate }
        case "occasional":
            options.sleepers = 1
            options.sleeperCheatRate = occasionalCheatRate
        case "colluders", "trusted-colluders": options.colluders = colluders(among: peers)
        default: break
        }
        let swarm = LocalSwarm(options: options)
        // COLONY_BENCH_TRACE=stall (or =facts, below) traces stalls, adversaries and wrong outputs alone: the per-line
        // log changes the timing enough that a stall seen without it (careful sleeper, 20,000 units: 3 runs of 10) did
        // not come in 10 runs with it.
        let trace = ProcessInfo.processInfo.environment["COLONY_BENCH_TRACE"]
        let tracing = trace != nil && trace != "stall" && trace != "facts"
        let began = Date()
        let walksBefore = ShardLedger.walks.totals
        // With COLONY_BENCH_TRACE=stall, the latest lines are kept to print with a stall's trace.
        let recent = Mutex<[String]>([])
        try swarm.start(log: { line in
            // Tracing, the peers' and workers' own lines, with the time since the swarm started.
            let stamped = String(format: "%7.2f ", Date().timeIntervalSince(began)) + line
            if tracing { console.note(stamped) }
            if trace == "stall" {
                recent.withLock { lines in
                    lines.append(stamped)
                    if lines.count > 400 { lines.removeFirst(100) }
                }
            }
        })
        defer { swarm.stop() }
        var churner: Int?
        if scenario == "churn" { churner = try swarm.addPeer(behaviour: .cheater) }
        let adversaries = options.sleepers + options.colluders + (churner == nil ? 0 : 1) + (scenario == "vanish" ? 1 : 0)
        let version = registry.kernel(named: spec.kernel).map { type(of: $0).version } ?? 1
        // Trusted: the workers first compute the job replicated (`warmUp` times, each a job of its own), passing many
        // checks; the adaptive job measured after it starts with that standing (leases cite the earlier jobs' shards).
        var computedBefore = 0
        var cheatedBefore = 0
        if scenario == "trusted" || scenario == "trusted-colluders" || scenario == "vanish" {
            for round in 1...warmUp {
                var first = spec
                first.redundancy.adaptive = false
                if round > 1 { first.title += " (warm-up \(round))" }
                let warm = try swarm.publish(try swarm.peers[0].signJob(spec: first, kernelVersion: version, units: inputs))
                guard swarm.waitUntilDecided(warm, timeout: 1800)?.validated == inputs.count else {
                    throw BenchmarkError("the replicated job \(round) of \(warmUp) before the trusted run did not finish")
                }
            }
            computedBefore = swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.computed }
            cheatedBefore = swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.cheated }
        }
        let started = Date()
        let manifest = try swarm.peers[0].signJob(spec: spec, kernelVersion: version, units: inputs)
        let job = try swarm.publish(manifest)
        var progress = LocalSwarm.Progress(total: inputs.count)
        // Vanish: the last peer, honest and trusted, crashes once half the units are decided.
        let vanishing = scenario == "vanish" ? swarm.peers.count - 1 : nil
        var nextTrace = Date()
        var lastChange = (Date(), -1)
        // With adversaries, once a second: wrong outputs validated at that moment (stood), and results the kernel's
        // check refuted (the custodians' view; a refuted result is outvoted like any other once its unit is decided).
        var stood: Set<Int> = []
        var refuted: Set<Int> = []
        var nextWatch = Date()
        let equivalent = registry.outputEquivalence(spec.kernel)
        while Date().timeIntervalSince(started) < 1800 {
            let watching = expected != nil && adversaries > 0 && Date() >= nextWatch
            progress = swarm.progress(of: job, outputs: watching) ?? progress
            if progress.done { break }
            if watching, let expected {
                nextWatch = Date() + 1
                for (unit, output) in progress.validatedOutputs where !equivalent(output, [UInt8](expected[unit])) {
                    stood.insert(unit)
                }
                for peer in swarm.peers {
                    for ledger in peer.custodian.ledgers where ledger.key.job == job {
                        refuted.formUnion(ledger.value.refutedResults().map(\.unit))
                    }
                }
            }
            if let vanishing, !swarm.crashed.contains(vanishing), progress.validated * 2 >= inputs.count {
                if trace != nil { console.note("vanish: peer \(vanishing) crashes with \(progress.validated) units decided") }
                swarm.crash(vanishing)
            }
            if progress.validated != lastChange.1 { lastChange = (Date(), progress.validated) }
            if trace != nil, Date().timeIntervalSince(lastChange.0) > 20 {
                lastChange.0 = Date()
                for line in recent.withLock({ lines in defer { lines.removeAll() }; return lines }) { console.note("log " + line) }
                for line in swarm.stallTrace(of: job) { console.note(line) }
            }
            if tracing, Date() >= nextTrace {
                nextTrace = Date() + 5
                console.note(
                    String(format: "%6.1f s: %d validated, %d in progress, %d attempts, %d computed", Date().timeIntervalSince(started),
                        progress.validated, progress.inProgress, progress.attempts, swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.computed })
                        + " refusals \(swarm.refusals) worker refusals \(swarm.workers.map { $0.snapshot.statistics.refused })")
            }
            swarm.waitForChange(until: Date() + 1, notBefore: Date() + 0.05)
        }
        let seconds = Date().timeIntervalSince(started)
        // The observer collects once every custodian has the records that decided the job (not timed).
        _ = swarm.waitUntilAgreed(job, timeout: 10)
        let observer = try swarm.observer()
        defer { observer.stop() }
        let report = try JobCollector.collect(job, via: observer, registry: registry, withEvidence: checkCredit)
        var credit: Row.Credit?
        if checkCredit {
            // A second peer that took no part gathers and re-verifies the records on its own.
            let second = try swarm.observer()
            defer { second.stop() }
            let again = try JobCollector.collect(job, via: second, registry: registry, withEvidence: true)
            credit = (report.evidence.mapValues { WorkerStanding($0) }, again.evidence.mapValues { WorkerStanding($0) })
        }
        // The adversaries, and a host that vanished: units where their results did not count are recomputed.
        let misbehaving = Set(
            swarm.peers.indices.filter { swarm.behaviour(of: $0) != .honest || swarm.crashed.contains($0) }
                .map { swarm.peers[$0].identity.publicKey })
        let recomputed = report.verdicts.filter { verdict in verdict.invalid.contains { misbehaving.contains($0.worker) } }.count
        if trace != nil {
            // Each adversary's units: computed, cheated on, sealed and revealed in the records, and not counted.
            for (index, peer) in swarm.peers.enumerated() where misbehaving.contains(peer.identity.publicKey) {
                let key = peer.identity.publicKey
                var sealed = Set<Int>(), revealed = Set<Int>()
                for shard in 0..<manifest.shardCount {
                    guard let ledger = swarm.peers.lazy.compactMap({ $0.custodian.ledgers[ShardRef(job: job, shard: shard)] }).first else { continue }
                    for record in ledger.records.values where record.worker == key {
                        if record.kind == .commit { sealed.formUnion(record.entries.map(\.unit)) }
                        if record.kind == .reveal { revealed.formUnion(record.entries.map(\.unit)) }
                    }
                }
                let statistics = index < swarm.workers.count ? swarm.workers[index].snapshot.statistics : nil
                console.note(
                    "adversary \(key.hex.prefix(6)): computed \(statistics?.computed ?? 0), cheated \(statistics?.cheated ?? 0), "
                        + "sealed \(sealed.count), revealed \(revealed.count), not counted \(report.verdicts.filter { $0.invalid.contains { $0.worker == key } }.count)")
            }
            // Each wrong output validated, with who agreed and who was outvoted (A adversary, H honest).
            let mark = { (key: Ed25519PublicKey) in (misbehaving.contains(key) ? "A:" : "H:") + key.hex.prefix(6) }
            for verdict in report.verdicts where verdict.state == .validated {
                guard RedTeam.wrongValidated(manifest: manifest, verdicts: [verdict], registry: registry) > 0 else { continue }
                let ref = ShardRef(job: job, shard: manifest.shard(of: verdict.unit))
                let ledger = swarm.peers.lazy.compactMap { $0.custodian.ledgers[ref] }.first
                // The trust each lease of the unit claimed, and each worker's standing in the shard now.
                let leases = (ledger?.records.values ?? [:].values).filter { $0.kind == .lease && $0.entries.contains { $0.unit == verdict.unit } }
                    .sorted { $0.time < $1.time }
                    .map { "\(mark($0.worker)) claim \($0.standing) prior \($0.prior)" }
                let now = CustodyClock.now()
                let standings = verdict.agreeing.map { "\(mark($0)) standing \(ledger?.standing(of: $0, at: now) ?? -1) checks \(ledger?.checks(of: $0).map { $0.passed ? "+" + $0.partners.map { String(mark($0).prefix(4)) }.joined(separator: "/") : "-" }.joined() ?? "")" }
                console.note(
                    "wrong unit \(verdict.unit) (shard \(ref.shard)): agreeing \(verdict.agreeing.map(mark)), "
                        + "invalid \(verdict.invalid.map { "\(mark($0.worker)) \($0.reason)" }), attempts \(verdict.attempts); leases \(leases); \(standings); "
                        + verdict.agreeing.map { ledger?.adaptiveTrace(of: $0) ?? "" }.joined(separator: "; "))
            }
        }
        // COLONY_BENCH_TRACE=facts: each peer's facts in each shard, in lease order (`ShardLedger.adaptiveTrace`): how
        // many replicated results a new key had before its first run alone, where its checks fell.
        if trace == "facts" {
            for shard in 0..<manifest.shardCount {
                guard let ledger = swarm.peers.lazy.compactMap({ $0.custodian.ledgers[ShardRef(job: job, shard: shard)] }).first else { continue }
                for peer in swarm.peers {
                    console.note("shard \(shard) \(peer.identity.publicKey.hex.prefix(6)): \(ledger.adaptiveTrace(of: peer.identity.publicKey))")
                }
            }
        }
        let cpuOverhead = local.map { local in
            report.verdicts.reduce(0) { $0 + Double($1.commits) * local.unitCPU[$1.unit] } / max(1e-9, local.cpuSeconds) - 1
        }
        // A job its custodians called done that the observer does not find all validated (the command then exits 1:
        // once in about 300 runs of 4 peers and 10 s leases under load, 0 wrong, and nothing else to read).
        if report.validated != inputs.count {
            let others = report.verdicts.filter { $0.state != .validated }
            console.note(
                "\(scenario): the custodians' progress: \(progress.tally); the observer re-derived \(report.verdicts.count) verdicts, "
                    + "\(report.validated) validated; not validated: \(others.prefix(10).map { "\($0.unit) \($0.state) attempts \($0.attempts)" })")
        }
        return Row(
            scenario: scenario, units: inputs.count,
            computed: swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.computed } - computedBefore,
            single: report.verdicts.filter { $0.state == .validated && $0.agreeing.count == 1 }.count, seconds: seconds,
            wrong: RedTeam.wrongValidated(manifest: manifest, verdicts: report.verdicts, registry: registry),
            recomputed: recomputed, stood: stood.count, refuted: refuted.count, adversaries: adversaries,
            cheated: swarm.workers.reduce(0) { $0 + $1.snapshot.statistics.cheated } - cheatedBefore, validated: report.validated,
            cpuOverhead: cpuOverhead,
            credit: credit,
            walks: ShardLedger.walks.totals.walks - walksBefore.walks,
            walkSeconds: ShardLedger.walks.totals.seconds - walksBefore.seconds)
    }

}
