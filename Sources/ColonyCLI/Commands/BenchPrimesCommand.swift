import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony bench primes`: the primes kernel against primesieve, counting the same range in one run.
enum BenchPrimesCommand: Command {
    static let description = CommandDescription(
        name: "primes",
        abstract: "The primes kernel against primesieve (Debian package), counting below N",
        discussion: """
            Counts the primes below N with the primes kernel through the engine, on all cores and on one, and \
            with primesieve (-t2 style: its default threads, and -t1), best of the rounds each. Ratio = Colony \
            time / primesieve time (1.0 = as fast). Needs primesieve on PATH: apt-get install primesieve.
            """,
        options: [
            .value("below", "N", help: "Count primes below N (default: 1e9)."),
            .value("rounds", "N", help: "Rounds; each time reported is the best (default: 3)."),
            .json,
        ],
        examples: ["swift run -c release colony bench primes", "colony bench primes --below 1e10 --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let below = try arguments.int("below", in: 1_000...1_000_000_000_000) ?? 1_000_000_000
        let rounds = try arguments.int("rounds", in: 1...100) ?? 3
        guard let primesieve = ExternalProgram.find(["primesieve"]) else {
            throw InputError("primesieve is not installed; install it with: apt-get install primesieve")
        }
        let spec = JobSpec(kernel: "primes", parameters: ["from": 0, "to": .int(below)], source: "bench primes")
        let job = try PreparedJob(spec: spec, registry: environment.registry)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var rows: [JSONValue] = []
        var lines: [String] = []
        var unmeasured = false
        for threads in [cores, 1] {
            var ours = Double.infinity
            var theirs = Double.infinity
            var ourCount = 0
            var theirCount = 0
            for _ in 0..<rounds {
                let (seconds, count) = try runColony(job, cores: threads)
                ours = min(ours, seconds)
                ourCount = count
                let reference = try runPrimesieve(primesieve, below: below, threads: threads)
                theirs = min(theirs, reference.seconds)
                theirCount = reference.count
            }
            guard ourCount == theirCount else {
                throw BenchmarkError("counts differ: Colony \(ourCount), primesieve \(theirCount)")
            }
            // primesieve prints its time in whole milliseconds: a range it counts in under one reads 0.000, and
            // there is no ratio to give.
            let ratio = theirs > 0 ? ours / theirs : nil
            rows.append(
                .object([
                    "threads": .int(threads), "colonySeconds": .double(ours), "primesieveSeconds": .double(theirs),
                    "ratio": ratio.map { .double($0) } ?? .null, "count": .int(ourCount),
                ]))
            let ratioText = ratio.map { String(format: "%.2f", $0) } ?? "-"
            lines.append(
                String(format: "%7d %12.3f %14.3f ", threads, ours, theirs)
                    + String(repeating: " ", count: max(0, 8 - ratioText.count)) + ratioText + "  \(ourCount)")
            if ratio == nil { unmeasured = true }
        }
        if arguments.flag("json") {
            console.printJSON(.object(["below": .int(below), "rounds": .int(rounds), "results": .array(rows)]))
        } else {
            console.print("Primes below \(below): Colony vs primesieve, best of \(rounds) rounds")
            console.print("threads   colony s   primesieve s    ratio  count")
            for line in lines { console.print(line) }
        }
        if unmeasured {
            console.note(
                "note: primesieve counted below \(below) in under a millisecond, the resolution of its timer, so no ratio is given; count a larger range (--below 1e9)")
        }
        return ExitStatus.success
    }

    private static func runColony(_ job: PreparedJob, cores: Int) throws -> (Double, Int) {
        let (seconds, summary) = try BenchmarkRun.timed(job, cores: cores)
        guard case .int(let count) = summary.values["count"] else {
            throw BenchmarkError("the primes kernel's summary has no count")
        }
        return (seconds, count)
    }

    /// primesieve's own timing (`--time`), which leaves out its process start-up.
    private static func runPrimesieve(_ path: String, below: Int, threads: Int) throws -> (seconds: Double, count: Int) {
        // primesieve counts in [0, stop], inclusive; below N means stop N-1.
        let run = try ExternalProgram.run(path, ["\(below - 1)", "-q", "--time", "-t\(threads)"])
        var seconds: Double?
        var count: Int?
        for line in run.output.split(separator: "\n") {
            if line.hasPrefix("Seconds:") {
                seconds = Double(line.dropFirst("Seconds:".count).trimmingCharacters(in: .whitespaces))
            } else if let number = Int(line.trimmingCharacters(in: .whitespaces)) {
                count = number
            }
        }
        guard run.status == 0, let seconds, let count else {
            throw BenchmarkError("could not read primesieve's output: \(run.output) \(run.error)")
        }
        return (seconds, count)
    }
}
