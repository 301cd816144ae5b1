import Colony
import ColonyCore
import ColonyKernel
import ColonyNet
import ColonyWork
import Foundation

/// Runs a job on a swarm of in-process peers and reports what happened: `colony demo` and `colony bench swarm`.
enum SwarmRun {
    struct Outcome {
        var job: JobID
        var manifest: JobManifest
        var seconds: Double
        var progress: LocalSwarm.Progress
        var refusals: [String: Int]
        var report: JobReport
        var summary: KernelSummary?
        var crashed: Int
        var requestFailures: Int
        /// Validated units whose output is not what the kernel computes here.
        var wrongValidated: Int
        var attack: AttackReport?
    }

    /// Starts the swarm, has peer 0 sign (choosing each shard's custodians among the peers) and publish a job of
    /// `units` from `spec`, and follows it to the end. The time runs from the signing.
    static func run(
        spec: JobSpec, kernelVersion: Int, units: [Data], shardSize: Int? = nil, options: LocalSwarm.Options,
        console: Console, live: Bool, quiet: Bool, out: URL?, timeout: Double, attack: Attack? = nil,
        checkOutputs: Bool = false
    ) throws -> Outcome {
        var options = options
        attack?.configure(&options)
        let swarm = LocalSwarm(options: options)
        let bar = ProgressLine(console: console, enabled: live)
        try swarm.start()
        var stopped = false
        defer { if !stopped { swarm.stop() } }
        let started = Date()
        let manifest = try swarm.peers[0].signJob(spec: spec, kernelVersion: kernelVersion, units: units, shardSize: shardSize)
        let job = try swarm.publish(manifest)
        let redTeam = attack.map { RedTeam(attack: $0, swarm: swarm) }
        try redTeam?.begin(manifest)
        var progress = LocalSwarm.Progress(total: manifest.units.count)
        var lastLine = Date.distantPast
        // Under attack, each unit's output when first seen validated: finality means it never changes.
        var firstValidated: [Int: [UInt8]] = [:]
        while Date().timeIntervalSince(started) < timeout {
            progress = swarm.progress(of: job, outputs: redTeam != nil) ?? progress
            for (unit, output) in progress.validatedOutputs where firstValidated[unit] == nil { firstValidated[unit] = output }
            // Crash the chosen peers once they hold leases and are computing.
            for index in swarm.crashIndices where !swarm.crashed.contains(index) {
                if !swarm.workers[index].snapshot.running.isEmpty {
                    swarm.crash(index)
                    let line = "peer \(index) crashed while holding leases"
                    if live { bar.update(line) } else if !quiet { console.note(line) }
                }
            }
            if progress.done { break }
            let seconds = Date().timeIntervalSince(started)
            let line = "\(Format.bar(Double(progress.validated) / Double(max(1, progress.total)))) \(progress.validated)/\(progress.total) validated · "
                + "\(progress.running) units computing · \(progress.attempts) attempts · \(progress.invalid + swarm.refusals.values.reduce(0, +)) invalid caught · "
                + String(format: "%.1f s", seconds)
            if live {
                bar.update(line)
            } else if !quiet && Date().timeIntervalSince(lastLine) >= 5 {
                console.note(line)
                lastLine = Date()
            }
            // Look again when custody changes, but at most 20 times a second: changes arrive hundreds of times
            // a second in `bench swarm`, and each look recomputes the progress from every custodian's records.
            // The finish time is therefore known to within 0.05 s.
            let looked = Date()
            swarm.waitForChange(until: looked + 0.25, notBefore: looked + 0.05)
        }
        let seconds = Date().timeIntervalSince(started)
        bar.finish()
        let refusals = swarm.refusals
        let crashed = swarm.crashed.count
        let requestFailures = swarm.workerRequestFailures

        // Re-verify from a peer that took no part, then assemble, once every custodian has the records that decided
        // the job.
        _ = swarm.waitUntilAgreed(job, timeout: 10)
        let observer = try swarm.observer()
        defer { observer.stop() }
        let report = try JobCollector.collect(job, via: observer, registry: options.registry)
        let attackReport = redTeam?.end(
            manifest: manifest, verdicts: report.verdicts, firstValidated: firstValidated, registry: options.registry)
        // The swarm's work is done: its peers stop before the outputs are computed again here, so that they do not
        // take the cores from it.
        swarm.stop()
        stopped = true
        let wrong = attackReport?.wrongValidated
            ?? (checkOutputs ? RedTeam.wrongValidated(manifest: manifest, verdicts: report.verdicts, registry: options.registry) : 0)
        var summary: KernelSummary?
        if let out, report.validated == report.verdicts.count {
            do {
                summary = try JobCollector.assemble(report, registry: options.registry, into: out)
            } catch where wrong > 0 {
                // A wrong output validated (colluders) may not even assemble: that is the finding, not a failure.
                console.note("the result does not assemble: \(error)")
            }
        }
        return Outcome(
            job: job, manifest: manifest, seconds: seconds, progress: progress, refusals: refusals, report: report,
            summary: summary, crashed: crashed, requestFailures: requestFailures, wrongValidated: wrong, attack: attackReport)
    }

    static func temporaryFolder(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("colony-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// `colony demo`.
enum DemoCommand: Command {
    static let description = CommandDescription(
        name: "demo",
        abstract: "Watch a whole swarm compute a job on this machine",
        discussion: """
            Starts --peers peers in this process on loopback, each with its own data directory, port, key and \
            worker, and publishes the spec (default: Mersenne prime exponents below 10,000, replicas 2, quorum \
            2). Workers find the job, lease units from custodians, compute, commit and reveal; a unit counts only \
            when two workers agree. --cheaters return wrong outputs, --copycats submit results they did not \
            compute, --crash peers die while holding leases. At the end a peer that took no part re-verifies \
            every signature and quorum and the assembled result is written; with --check, --cheaters, --copycats \
            or --attack every validated output is also computed again here to count any wrong one. Each peer has a loopback network of its own (127.0.N.1), so the \
            rule that agreeing replicas come from distinct networks holds on one machine.

            --adaptive shows adaptive replication (spec field redundancy.adaptive): the job (--units tally units, \
            default 4,000, or --spec) runs replicated, then adaptive, then adaptive again after a replicated run \
            (workers bring their standing), then adaptive against a sleeper (honest for \
            100 units, then cheating), a careful sleeper (the same, but honest on its last unit in each shard), \
            10% colluders (at least 2; among new keys only, and among workers trusted \
            from an earlier job) and Sybil churn, as 'colony bench adaptive' does; it prints the CPU spent beyond \
            one run per unit, wrong outputs validated and units the adversaries forced to be computed again, and \
            has two peers that took no part compute every worker's credit from the records independently and \
            compare them. It exits 1 on any wrong output, or on credit that differs.

            --attack NAME runs an adversary against the swarm and prints what it tried, what the honest peers \
            refused, and whether any wrong output was validated or any validated verdict changed:
            """ + Attack.allCases.map { "\n  \($0.rawValue): \($0.summary)" }.joined(),
        options: [
            .value("peers", "N", help: "Peers to start (default: 8)."),
            .value("spec", "SPEC", help: "A job spec (default: mersenne below 10,000)."),
            .value("cheaters", "N", help: "Peers that return wrong outputs (default: 0)."),
            .value("copycats", "N", help: "Peers that submit results they did not compute (default: 0)."),
            .value("crash", "N", help: "Peers that die while holding leases (default: 0)."),
            .value("lease", "S", help: "Lease length in seconds for the demo's job (default: 20)."),
            .value("out", "DIR", help: "Where to write the assembled result (default: ./demo-result)."),
            .flag("adaptive", help: "Show adaptive replication against a sleeper, colluders and Sybil churn (see below)."),
            .value("units", "N", help: "With --adaptive and no --spec: tally units in the job (default: 4000)."),
            .value("timeout", "S", help: "Give up after S seconds (default: 600)."),
            .flag(
                "check",
                help: "Compute every validated output again here and count wrong ones (always with --cheaters, --copycats or --attack)."),
            .value(
                "attack", "NAME",
                help: "Run one adversary of SECURITY.md against the swarm: "
                    + Attack.allCases.map(\.rawValue).joined(separator: ", ") + " (see below)."),
            .json,
        ],
        examples: [
            "colony demo", "colony demo --peers 10 --cheaters 2 --copycats 1 --crash 1", "colony demo --spec Workunits/collatz-1e7.json",
            "colony demo --attack forge", "colony demo --adaptive", "colony demo --adaptive --spec Workunits/mersenne-10k.json --peers 4",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let peers = try arguments.int("peers", in: 2...64) ?? 8
        let cheaters = try arguments.int("cheaters", in: 0...64) ?? 0
        let copycats = try arguments.int("copycats", in: 0...64) ?? 0
        let crash = try arguments.int("crash", in: 0...64) ?? 0
        let lease = try arguments.int("lease", in: JobSpec.leaseLimits) ?? 20
        var attack: Attack?
        if let name = arguments.value("attack") {
            guard let known = Attack(rawValue: name) else {
                throw UsageError(
                    "--attack '\(name)' is not an attack; choose one of " + Attack.allCases.map(\.rawValue).joined(separator: ", "),
                    commandPath: arguments.commandPath)
            }
            attack = known
        }
        if arguments.flag("adaptive") {
            guard cheaters + copycats + crash == 0, attack == nil else {
                throw UsageError(
                    "--adaptive brings its own adversaries (a sleeper, colluders, Sybil churn); leave out --cheaters, --copycats, --crash and --attack",
                    commandPath: arguments.commandPath)
            }
            return try adaptive(arguments, in: environment)
        }
        let timeout = Double(try arguments.int("timeout", in: 1...86_400) ?? 600)
        guard cheaters + copycats + crash <= peers - 2 else {
            throw UsageError(
                "--cheaters + --copycats + --crash is \(cheaters + copycats + crash); at least 2 of the \(peers) peers must be honest",
                commandPath: arguments.commandPath)
        }
        var spec: JobSpec
        if let path = arguments.value("spec") {
            spec = try JobSpec.load(from: URL(fileURLWithPath: path), displayPath: path)
        } else {
            spec = JobSpec(
                kernel: "mersenne", title: "Mersenne prime exponents below 10,000",
                parameters: ["below": .int(10_000), "exponentsPerUnit": .int(40)],
                redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 10), source: "the demo's default spec")
        }
        spec.leaseSeconds = lease
        let prepared = try PreparedJob(spec: spec, registry: environment.registry)
        let folder = try SwarmRun.temporaryFolder("demo")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = peers
        options.cheaters = cheaters
        options.copycats = copycats
        options.crash = crash
        options.registry = environment.registry
        let json = arguments.flag("json")
        let out = URL(fileURLWithPath: arguments.value("out") ?? "demo-result")
        // Computing every output again costs as much as the job on one machine: done when a peer may lie.
        let checkOutputs = arguments.flag("check") || cheaters > 0 || copycats > 0 || attack != nil
        if !json {
            console.note(
                "\(peers) peers on loopback, each on its own network 127.0.N.1 (\(cheaters) cheaters, \(copycats) copycats, \(crash) to crash); job: \(spec.title), \(prepared.units.count) units, replicas \(spec.redundancy.replicas), quorum \(spec.redundancy.quorum)")
        }
        if let attack, !json { console.note("attack \(attack.rawValue): \(attack.summary)") }
        let outcome = try SwarmRun.run(
            spec: spec, kernelVersion: type(of: prepared.kernel).version, units: prepared.units, options: options,
            console: console, live: !json && console.errorIsTerminal, quiet: json, out: out, timeout: timeout,
            attack: attack, checkOutputs: checkOutputs)
        let report = outcome.report
        let refused = outcome.refusals.values.reduce(0, +)
        let allValidated = report.validated == report.verdicts.count
        if json {
            var object = SwarmCommandSupport.reportJSON(report)
            object["seconds"] = .double(outcome.seconds)
            object["peers"] = .int(peers)
            object["cheaters"] = .int(cheaters)
            object["copycats"] = .int(copycats)
            object["crashed"] = .int(outcome.crashed)
            object["refused"] = .object(outcome.refusals.mapValues { .int($0) })
            object["invalidCaught"] = .int(report.invalid + refused)
            if checkOutputs { object["wrongValidated"] = .int(outcome.wrongValidated) }
            if let attack = outcome.attack {
                object["attack"] = .object([
                    "name": .string(attack.attack.rawValue), "tried": .object(attack.tried.mapValues { .int($0) }),
                    "refused": .object(attack.refused.mapValues { .int($0) }), "observed": .object(attack.observed.mapValues { .int($0) }),
                    "wrongValidated": .int(attack.wrongValidated), "validatedChanged": .int(attack.validatedChanged),
                ])
            }
            if let summary = outcome.summary {
                object["summary"] = .object(summary.values)
                object["out"] = .string(out.path)
            }
            console.printJSON(.object(object))
        } else {
            console.print(
                "\(report.validated)/\(report.verdicts.count) units validated in \(String(format: "%.1f", outcome.seconds)) s; \(report.attempts) attempts; "
                    + "\(report.invalid + refused) invalid results caught (\(report.invalid) outvoted, \(refused) refused by custodians)")
            if let summary = outcome.summary {
                console.print("\(spec.title): \(summary.headline)")
                console.note("re-verified by a peer that took no part: \(report.records) signed records; result written to \(out.path)")
            }
            if let attack = outcome.attack {
                func list(_ counts: [String: Int]) -> String {
                    counts.isEmpty ? "nothing" : counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
                }
                console.print("attack \(attack.attack.rawValue) tried: \(list(attack.tried))")
                console.print("refused by the honest peers: \(list(attack.refused))")
                if !attack.observed.isEmpty { console.print("observed: \(list(attack.observed))") }
                console.print(
                    "wrong outputs validated: \(attack.wrongValidated); validated verdicts changed: \(attack.validatedChanged)")
                if attack.attack == .collude {
                    let colluders = Attack.colluders(joining: peers)
                    let f = Double(colluders) / Double(peers + colluders)
                    console.note(
                        String(
                            format: "colluders are %.0f %% of the workers: independent random assignment gives both replicas of a unit to them with chance f² = %.3f, about %.1f of %d units",
                            f * 100, f * f, f * f * Double(report.verdicts.count), report.verdicts.count))
                }
            } else if checkOutputs {
                console.print("wrong outputs validated: \(outcome.wrongValidated)")
            }
        }
        return allValidated && outcome.wrongValidated == 0 && (outcome.attack?.validatedChanged ?? 0) == 0
            ? ExitStatus.success : ExitStatus.failure
    }
}

extension DemoCommand {
    /// `colony demo --adaptive`: the runs of `colony bench adaptive`, then credit computed twice independently.
    static func adaptive(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let rows = try BenchAdaptiveCommand.measure(
            arguments, in: environment, scenarios: BenchAdaptiveCommand.allScenarios, defaultUnits: 4000, checkCredit: true)
        // Every run must validate no wrong output, colluders among new keys only included: the units they share
        // before anyone in a shard is trusted are computed again once one is outvoted there and nothing vouches
        // for the other (SECURITY.md).
        let wrong = rows.reduce(0) { $0 + $1.wrong }
        let coldColluders = rows.first { $0.scenario == "colluders" }
        let complete = rows.allSatisfy { $0.validated == $0.units }
        var creditAgrees = false
        if let row = rows.first(where: { $0.scenario == "adaptive" }), let credit = row.credit {
            creditAgrees = credit.first == credit.second
            if !arguments.flag("json") {
                if let replicated = rows.first(where: { $0.scenario == "replicated" }) {
                    console.print(
                        String(
                            format: "adaptive replication: %.1f %% of CPU beyond one run per unit, against %.1f %% replicated; %.1f %% of units ran once",
                            row.overhead * 100, replicated.overhead * 100, Double(row.single) * 100 / Double(max(1, row.units))))
                }
                if let trusted = rows.first(where: { $0.scenario == "trusted" }) {
                    console.print(
                        String(
                            format: "with workers trusted from an earlier job of the same kernel: %.1f %% beyond one run per unit", trusted.overhead * 100))
                }
                console.print("wrong outputs validated, all runs: \(wrong)")
                if let coldColluders {
                    console.print(
                        String(
                            format: "colluders among new keys only: %d wrong of %d; before anyone in a shard is trusted two of them can share up to %d of its units (and those a draw gives them where every worker about is at that cap), which are computed again by a fresh quorum once one is outvoted there and the other is too or agreed with nobody else (SECURITY.md); among trusted workers (trusted-colluders) custodians never pair them",
                            coldColluders.wrong, coldColluders.units, ShardLedger.maxSharedUntrusted))
                }
                console.print(
                    "credit of \(credit.first.count) workers in the adaptive run, computed by two peers that took no part, each from the records alone: "
                        + (creditAgrees ? "they agree to the unit" : "THEY DIFFER"))
                let ordered = credit.first.sorted { $0.value.valid != $1.value.valid ? $0.value.valid > $1.value.valid : $0.key.hex < $1.key.hex }
                for (worker, standing) in ordered {
                    let other = credit.second[worker]
                    console.print(
                        "  \(worker.hex.prefix(12))  valid \(standing.valid)  credit \(CreditCommand.creditText(standing.credit))"
                            + (other == standing ? "" : "  (other peer: \(other.map { CreditCommand.creditText($0.credit) } ?? "no facts"))"))
                }
            }
        }
        return complete && wrong == 0 && creditAgrees ? ExitStatus.success : ExitStatus.failure
    }
}

/// `colony bench swarm`.
enum BenchSwarmCommand: Command {
    static let description = CommandDescription(
        name: "swarm",
        abstract: "Measure validated units per second of a swarm in one process",
        discussion: """
            Publishes a job of --units trivial units (the tally kernel: microseconds each) with replicas 2 and \
            quorum 2 to --peers peers in this process over real loopback sockets, and reports validated units \
            per second from publication to the last validation, plus the records re-verified afterwards.
            """,
        options: [
            .value("units", "N", help: "Units in the job (default: 20000)."),
            .value("peers", "N", help: "Peers (default: 16)."),
            .value("shard-size", "N", help: "Units per shard (default: 128)."),
            .json,
        ],
        examples: ["colony bench swarm", "colony bench swarm --units 5000 --peers 8 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let units = try arguments.int("units", in: 1...1_000_000) ?? 20_000
        let peers = try arguments.int("peers", in: 2...64) ?? 16
        let shardSize = try arguments.int("shard-size", in: JobPolicy.shardLimits) ?? 128
        let registry = KernelRegistry([TallyKernel.self])
        let spec = JobSpec(
            kernel: TallyKernel.name, title: "\(units) trivial units", parameters: ["units": .int(units)],
            redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 10), leaseSeconds: 60, source: "bench swarm")
        let folder = try SwarmRun.temporaryFolder("bench-swarm")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = LocalSwarm.Options(folder: folder)
        options.peers = peers
        options.registry = registry
        options.revealPollInterval = 0.05
        let json = arguments.flag("json")
        let outcome = try SwarmRun.run(
            spec: spec, kernelVersion: TallyKernel.version, units: try TallyKernel().units(for: spec.parameters),
            shardSize: shardSize, options: options, console: console, live: !json && console.errorIsTerminal, quiet: json,
            out: nil, timeout: 600)
        let rate = Double(outcome.progress.validated) / max(outcome.seconds, 1e-9)
        if json {
            console.printJSON(.object([
                "units": .int(units), "peers": .int(peers), "shardSize": .int(shardSize), "replicas": .int(2), "quorum": .int(2),
                "validated": .int(outcome.report.validated), "seconds": .double(outcome.seconds), "validatedPerSecond": .double(rate),
                "attempts": .int(outcome.report.attempts), "records": .int(outcome.report.records),
                "peakMemoryMiB": .double(ProcessMemory.peakMiB), "cores": .int(ProcessInfo.processInfo.activeProcessorCount),
                "refused": .object(outcome.refusals.mapValues { .int($0) }), "requestFailures": .int(outcome.requestFailures),
            ]))
        } else {
            console.print(
                "\(outcome.report.validated)/\(units) units validated in \(String(format: "%.2f", outcome.seconds)) s by \(peers) peers: \(String(format: "%.0f", rate)) validated units/s")
            console.print("re-verified \(outcome.report.records) signed records; \(outcome.report.attempts) leases")
            let refused = outcome.refusals.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            console.print("custodians refused: \(refused.isEmpty ? "none" : refused); requests unanswered: \(outcome.requestFailures)")
        }
        return outcome.report.validated == units ? ExitStatus.success : ExitStatus.failure
    }
}
