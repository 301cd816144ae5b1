/// `colony bench`: measurements that compare Colony with a reference in one run, as ratios.
enum BenchCommand: Command {
    static let description = CommandDescription(
        name: "bench",
        abstract: "Measure Colony against a reference, in one run, as ratios",
        discussion: "Build with -c release for meaningful figures: swift run -c release colony bench engine",
        examples: ["colony bench engine", "colony bench primes", "colony bench mersenne --json"]
    )

    static var subcommands: [any Command.Type] {
        [BenchEngineCommand.self, BenchPrimesCommand.self, BenchMersenneCommand.self, BenchDHTCommand.self, BenchBlobCommand.self, BenchSwarmCommand.self, BenchColludeCommand.self, BenchSuspendCommand.self, BenchVerifyCommand.self, BenchAdaptiveCommand.self]
    }
}
