import Colony
import ColonyBlobs
import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony credit`: each worker's standing and credit in some jobs, recomputed from their signed records.
enum CreditCommand: Command {
    static let description = CommandDescription(
        name: "credit",
        abstract: "Each worker's credit and standing in jobs, recomputed from their signed records",
        discussion: """
            Gathers every record of each job from its custodians and re-verifies them as 'colony results' does \
            (signatures, the custodian authority chain, independent quorums), then derives each worker's facts: \
            units where its result was in the validated quorum (valid), where it did not count (invalid: \
            outvoted, unsealed or unleased), errors it reported, and leases it let expire; an agreeing result sealed \
            after the result was revealed (late: it could be a copy) counts neither way. Its standing \
            is BOINC's counter, kept in the order of the custodian-signed lease times: consecutive valid results \
            since its last invalid result, error or expiry. Credit is the work of its valid results, in the \
            kernel's units. Nothing here is taken from the worker: any peer that runs the same command on the \
            same jobs gets the same figures, and --facts lists every fact with its job and unit to check by hand.
            """,
        positionals: [
            PositionalDescription(
                "JOB", help: "A job ID (more with --job); without one, --worker KEY finds the worker's jobs.",
                isOptional: true)
        ],
        options: [
            .value("job", "JOB", help: "Another job to count (repeatable).", repeatable: true),
            .value("worker", "KEY", help: "Only this worker: its public key in hex, or the first 8 or more digits."),
            .flag("facts", help: "List every fact behind each figure."),
            .bootstrap, .network, .dhtHost, .dhtPort, .dataDir, .json,
        ],
        examples: [
            "colony credit 5e…c1 --bootstrap 127.0.0.1:7000",
            "colony credit --worker 3f9a…(64 hex digits) --bootstrap 127.0.0.1:7000",
            "colony credit 5e…c1 --job 9a…04 --worker 3f9a1c07 --facts --json",
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        var jobs = arguments.positionals.isEmpty ? [] : [try SwarmCommandSupport.job(arguments)]
        for text in arguments.values("job") {
            guard text.count == 64, let job = try? JobID(hex: text) else {
                throw InputError("--job '\(text)' is not a job ID (64 hex digits, as 'colony publish' printed it)")
            }
            if !jobs.contains(job) { jobs.append(job) }
        }
        let wanted = try arguments.value("worker").map { text -> String in
            let lowered = text.lowercased()
            guard (8...64).contains(lowered.count), lowered.allSatisfy(\.isHexDigit) else {
                throw InputError("--worker '\(text)' is not a public key (64 hex digits) or its first 8 or more digits")
            }
            return lowered
        }
        let peer = try SwarmCommandSupport.peer(arguments, in: environment, oneShot: true)
        defer { peer.stop() }
        let console = environment.console
        var roots: [JobID: BlobID] = [:]
        if jobs.isEmpty {
            // Without a job, the custodians that leased to the worker say which jobs hold its evidence.
            // A key is 32 bytes like a SHA-256 digest: its hex reads the same way.
            guard let wanted, wanted.count == 64, let bytes = try? SHA256Digest(hex: wanted).bytes,
                let worker = try? Ed25519PublicKey(rawRepresentation: bytes)
            else {
                throw UsageError(
                    "give a JOB, or --worker with the whole public key (64 hex digits) to find its jobs",
                    commandPath: arguments.commandPath)
            }
            // Any node can announce under the key and name jobs; each is re-verified below, and at most this many
            // are collected.
            for found in peer.discoverEvidence(of: worker).prefix(Self.discoveredJobLimit) {
                jobs.append(found.job)
                roots[found.job] = found.root
            }
            guard !jobs.isEmpty else {
                console.print("no custodian announced evidence of worker \(wanted.prefix(12)) on this network")
                return ExitStatus.success
            }
        }
        var evidence: [[Ed25519PublicKey: [EvidenceFact]]] = []
        var records = 0
        for job in jobs {
            let report: JobReport
            if let root = roots[job] {
                // A job a source named: a wrong root (a liar's) falls back to the job's own key, and a job that
                // cannot be collected at all is said and skipped rather than ending the command.
                guard
                    let collected = (try? JobCollector.collect(
                        job, root: root, via: peer, registry: environment.registry, withEvidence: true))
                        ?? (try? JobCollector.collect(job, via: peer, registry: environment.registry, withEvidence: true))
                else {
                    console.note("warning: job \(job.hex.prefix(12)), named as holding the worker's evidence, could not be collected; skipped")
                    continue
                }
                report = collected
            } else {
                report = try JobCollector.collect(job, via: peer, registry: environment.registry, withEvidence: true)
            }
            evidence.append(report.evidence)
            records += report.records
            if !report.unreachableShards.isEmpty {
                console.note(
                    "warning: job \(job.hex.prefix(12)): no custodian answered for \(report.unreachableShards.count) "
                        + "shards; their facts are missing")
            }
            if !report.unreachablePriorShards.isEmpty {
                console.note(
                    "warning: job \(job.hex.prefix(12)): \(report.unreachablePriorShards.count) shards cited for prior standing "
                        + "could not be gathered; results run alone under those leases are not counted")
            }
        }
        var facts: [Ed25519PublicKey: [EvidenceFact]] = [:]
        for part in evidence {
            for (worker, list) in part where wanted.map({ worker.hex.hasPrefix($0) }) ?? true {
                facts[worker, default: []] += list
            }
        }
        let rows = facts.map { Row(worker: $0.key, standing: WorkerStanding($0.value), facts: $0.value) }.sorted(by: Row.order)
        if arguments.flag("json") {
            console.printJSON(
                .object([
                    "jobs": .array(jobs.map { .string($0.hex) }), "records": .int(records),
                    "workers": .array(rows.map { row in json(row.worker, row.standing, facts: arguments.flag("facts") ? row.facts : nil) }),
                ]))
            return ExitStatus.success
        }
        if rows.isEmpty {
            console.print(wanted == nil ? "no worker has a fact in these jobs yet" : "no facts for worker \(wanted!) in these jobs")
        }
        console.print("worker        valid  invalid  errors  expired  late  consecutive valid  credit")
        for row in rows {
            let s = row.standing
            console.print(
                String(
                    format: "%@  %5d  %7d  %6d  %7d  %4d  %17d  ", String(row.worker.hex.prefix(12)), s.valid, s.invalid,
                    s.errors, s.expired, s.late, s.consecutiveValid) + Self.creditText(s.credit))
            if arguments.flag("facts") {
                for fact in row.facts.sorted(by: EvidenceFact.canonicalOrder) { console.print("    \(fact)") }
            }
        }
        console.note(
            "recomputed from \(records) signed records of \(jobs.count) job\(jobs.count == 1 ? "" : "s"), re-verified here; "
                + "any peer running this command on the same jobs gets the same figures (--facts lists each one)")
        return ExitStatus.success
    }

    /// Jobs `--worker KEY` collects at most, of those the DHT's announcers name.
    static let discoveredJobLimit = 200

    /// Credit by work unit: "3,999,999 starting values; 16,384 pixels", or "none".
    static func creditText(_ credit: [String: Double]) -> String {
        credit.isEmpty
            ? "none" : credit.sorted { $0.key < $1.key }.map { grouped($0.value) + " " + $0.key }.joined(separator: "; ")
    }

    /// A credit as a whole number with thousands separators (4,000,000), or with two decimals when it has a fraction.
    static func grouped(_ value: Double) -> String {
        guard value.rounded() == value, abs(value) < 1e15 else { return String(format: "%.2f", value) }
        let digits = String(Int64(value).magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    struct Row {
        var worker: Ed25519PublicKey
        var standing: WorkerStanding
        var facts: [EvidenceFact]

        /// The most valid results first, then by key.
        static func order(_ a: Row, _ b: Row) -> Bool {
            if a.standing.valid != b.standing.valid { return a.standing.valid > b.standing.valid }
            return a.worker.hex < b.worker.hex
        }
    }

    static func json(_ worker: Ed25519PublicKey, _ standing: WorkerStanding, facts: [EvidenceFact]?) -> JSONValue {
        var object: [String: JSONValue] = [
            "worker": .string(worker.hex), "credit": .object(standing.credit.mapValues { .double($0) }), "valid": .int(standing.valid),
            "invalid": .int(standing.invalid), "errors": .int(standing.errors), "expired": .int(standing.expired),
            "late": .int(standing.late), "consecutiveValid": .int(standing.consecutiveValid),
        ]
        if let facts {
            object["facts"] = .array(
                facts.sorted(by: EvidenceFact.canonicalOrder).map { fact in
                    var entry: [String: JSONValue] = [
                        "kind": .string(fact.kind.rawValue), "job": .string(fact.job.hex), "unit": .int(fact.unit),
                        "leased": .int(Int(fact.leased)),
                    ]
                    if let detail = fact.detail { entry["detail"] = .string(detail) }
                    if fact.kind == .valid {
                        entry["work"] = .double(fact.work)
                        entry["workUnit"] = .string(fact.workUnit)
                    }
                    return .object(entry)
                })
        }
        return .object(object)
    }
}
