import Colony
import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony bench collude`: how often colluding cheaters get a wrong output validated, against the model.
enum BenchColludeCommand: Command {
    static let description = CommandDescription(
        name: "collude",
        abstract: "Measure the rate of wrong outputs validated with colluding cheaters, against the f² model",
        discussion: """
            For each fraction f of --fractions, runs a swarm of --peers peers in this process, f of them colluders \
            on distinct networks that all return one agreed wrong output, computing --units trivial units with \
            replicas 2 and quorum 2. Every validated output is then computed again here: the rate of wrong \
            outputs validated is printed next to f², the chance that both replicas of a unit go to colluders \
            when custodians assign units independently at random (SECURITY.md, colluding cheaters).
            """,
        options: [
            .value("units", "N", help: "Units in each job (default: 400)."),
            .value("peers", "N", help: "Peers in each swarm (default: 20)."),
            .value("fractions", "LIST", help: "Colluding fractions in percent, comma-separated (default: 10,20,30)."),
            .json,
        ],
        examples: ["colony bench collude", "colony bench collude --fractions 20 --units 1000 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let units = try arguments.int("units", in: 10...100_000) ?? 400
        let peers = try arguments.int("peers", in: 4...64) ?? 20
        var fractions: [Int] = []
        for part in (arguments.value("fractions") ?? "10,20,30").split(separator: ",") {
            guard let percent = Int(part.trimmingCharacters(in: .whitespaces)), (1...50).contains(percent) else {
                throw UsageError("--fractions takes whole percentages from 1 to 50, comma-separated; got '\(part)'", commandPath: arguments.commandPath)
            }
            fractions.append(percent)
        }
        let registry = KernelRegistry([TallyKernel.self])
        var rows: [JSONValue] = []
        if !arguments.flag("json") { console.print("fraction  colluders  validated  wrong  rate     model f²") }
        for percent in fractions {
            let colluders = max(1, Int((Double(peers) * Double(percent) / 100).rounded()))
            let spec = JobSpec(
                kernel: TallyKernel.name, title: "\(units) trivial units", parameters: ["units": .int(units)],
                redundancy: Redundancy(replicas: 2, quorum: 2, maxAttempts: 10), leaseSeconds: 60, source: "bench collude")
            let folder = try SwarmRun.temporaryFolder("bench-collude")
            defer { try? FileManager.default.removeItem(at: folder) }
            var options = LocalSwarm.Options(folder: folder)
            options.peers = peers
            options.colluders = colluders
            options.registry = registry
            options.revealPollInterval = 0.05
            let outcome = try SwarmRun.run(
                spec: spec, kernelVersion: TallyKernel.version, units: try TallyKernel().units(for: spec.parameters),
                shardSize: 8, options: options, console: console, live: false, quiet: true, out: nil, timeout: 600,
                checkOutputs: true)
            let f = Double(colluders) / Double(peers)
            let rate = Double(outcome.wrongValidated) / Double(max(1, outcome.report.validated))
            rows.append(
                .object([
                    "fraction": .double(f), "colluders": .int(colluders), "peers": .int(peers), "units": .int(units),
                    "validated": .int(outcome.report.validated), "wrongValidated": .int(outcome.wrongValidated),
                    "rate": .double(rate), "model": .double(f * f), "seconds": .double(outcome.seconds),
                    "attempts": .int(outcome.report.attempts),
                ]))
            if !arguments.flag("json") {
                console.print(
                    String(
                        format: "%6.0f %%  %9d  %9d  %5d  %6.3f   %6.3f", f * 100, colluders, outcome.report.validated,
                        outcome.wrongValidated, rate, f * f))
            }
        }
        if arguments.flag("json") { console.printJSON(.object(["results": .array(rows)])) }
        return ExitStatus.success
    }
}
