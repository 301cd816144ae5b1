import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony bench mersenne`: the mersenne kernel's Lucas–Lehmer tests against the same loop on GMP.
enum BenchMersenneCommand: Command {
    static let description = CommandDescription(
        name: "mersenne",
        abstract: "The mersenne kernel's Lucas–Lehmer tests against a GMP loop (gmpy2) on the same exponents",
        discussion: """
            Runs the Lucas–Lehmer test on every prime exponent in [FROM, BELOW) on one core, once with the \
            mersenne kernel (trial factoring off, so both sides do the same work) and once with a Python loop on \
            GMP through gmpy2 (s = s² − 2, reduced mod 2^p − 1 by shift and add). Ratio = Colony time / GMP \
            time. Needs gmpy2: apt-get install python3-gmpy2 (or pip install gmpy2).
            """,
        options: [
            .value("from", "P", help: "Smallest exponent (default: 3000)."),
            .value("below", "P", help: "Exponents below P (default: 5000)."),
            .value("rounds", "N", help: "Rounds; each time reported is the best (default: 3)."),
            .json,
        ],
        examples: ["swift run -c release colony bench mersenne", "colony bench mersenne --from 2 --below 10000"]
    )

    static let gmpLoop = """
        import sys, time, gmpy2
        exponents = [int(word) for word in sys.stdin.read().split()]
        start = time.perf_counter()
        primes = []
        for p in exponents:
            if p == 2:
                primes.append(p)
                continue
            m = (gmpy2.mpz(1) << p) - 1
            s = gmpy2.mpz(4)
            for _ in range(p - 2):
                s = s * s
                s = (s & m) + (s >> p)
                s = s - 2
                if s < 0:
                    s += m
                while s >= m:
                    s -= m
            if s == 0:
                primes.append(p)
        print(time.perf_counter() - start)
        print(" ".join(map(str, primes)))
        """

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        let from = try arguments.int("from", in: 2...200_000) ?? 3000
        let below = try arguments.int("below", in: 3...200_000) ?? 5000
        let rounds = try arguments.int("rounds", in: 1...100) ?? 3
        guard below > from else { throw InputError("--below \(below) must be greater than --from \(from)") }
        guard let python = findPythonWithGMPY2() else {
            throw InputError("no python3 with gmpy2 found; install it with: apt-get install python3-gmpy2")
        }
        let spec = JobSpec(
            kernel: "mersenne", parameters: ["from": .int(from), "below": .int(below), "trialFactorBits": 0],
            source: "bench mersenne")
        let job = try PreparedJob(spec: spec, registry: environment.registry)
        let exponents = (from..<below).filter(isPrime)
        var ours = Double.infinity
        var theirs = Double.infinity
        var ourPrimes: [Int] = []
        var theirPrimes: [Int] = []
        for _ in 0..<rounds {
            let colony = try runColony(job)
            ours = min(ours, colony.seconds)
            ourPrimes = colony.primes
            let gmp = try runGMP(python, exponents: exponents)
            theirs = min(theirs, gmp.seconds)
            theirPrimes = gmp.primes
        }
        guard ourPrimes == theirPrimes else {
            throw BenchmarkError("results differ: Colony \(ourPrimes), GMP \(theirPrimes)")
        }
        if arguments.flag("json") {
            console.printJSON(
                .object([
                    "from": .int(from), "below": .int(below), "exponentsTested": .int(exponents.count),
                    "colonySeconds": .double(ours), "gmpSeconds": .double(theirs), "ratio": .double(ours / theirs),
                    "mersennePrimes": .array(ourPrimes.map { .int($0) }), "rounds": .int(rounds),
                ]))
        } else {
            console.print(
                "Lucas–Lehmer on \(exponents.count) prime exponents in [\(from), \(below)), one core, best of \(rounds)")
            console.print(String(format: "colony %.3f s   gmpy2 %.3f s   ratio %.2f", ours, theirs, ours / theirs))
            console.print("Mersenne primes found: " + ourPrimes.map(String.init).joined(separator: ", "))
        }
        return ExitStatus.success
    }

    private static func runColony(_ job: PreparedJob) throws -> (seconds: Double, primes: [Int]) {
        let (seconds, summary) = try BenchmarkRun.timed(job, cores: 1)
        guard case .array(let values) = summary.values["exponents"] else {
            throw BenchmarkError("the mersenne kernel's summary has no exponents")
        }
        return (seconds, values.compactMap { if case .int(let p) = $0 { p } else { nil } })
    }

    private static func runGMP(_ python: String, exponents: [Int]) throws -> (seconds: Double, primes: [Int]) {
        let run = try ExternalProgram.run(
            python, ["-c", gmpLoop], input: exponents.map(String.init).joined(separator: " "))
        let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false)
        guard run.status == 0, lines.count >= 2, let seconds = Double(lines[0]) else {
            throw BenchmarkError("the GMP loop failed: \(run.error)")
        }
        return (seconds, lines[1].split(separator: " ").compactMap { Int($0) })
    }

    private static func findPythonWithGMPY2() -> String? {
        for candidate in ["/usr/bin/python3", "python3"] {
            guard let path = ExternalProgram.find([candidate]),
                let run = try? ExternalProgram.run(path, ["-c", "import gmpy2"]), run.status == 0
            else { continue }
            return path
        }
        return nil
    }

    private static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        var divisor = 2
        while divisor * divisor <= n {
            if n % divisor == 0 { return false }
            divisor += 1
        }
        return true
    }
}
