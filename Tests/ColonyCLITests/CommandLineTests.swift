import ColonyCLI
import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test func rootHelpListsTheCommands() {
        let cli = CLIHarness()
        #expect(cli.run("--help") == 0)
        #expect(cli.output.hasPrefix("colony — volunteer computing on a Kademlia DHT\n\nUsage: colony COMMAND"))
        for command in ["run", "kernels", "bench"] { #expect(cli.output.contains("\n  \(command) ")) }
    }

    @Test(arguments: [
        ["run", "--help"], ["kernels", "--help"], ["bench", "--help"], ["bench", "engine", "--help"],
        ["bench", "primes", "-h"], ["bench", "mersenne", "--help"], ["help", "run"],
    ])
    func everyCommandHasHelp(arguments: [String]) {
        let cli = CLIHarness()
        #expect(cli.run(arguments) == 0)
        let path = "colony " + arguments.filter { !$0.hasPrefix("-") && $0 != "help" }.joined(separator: " ")
        #expect(cli.output.contains("Usage: \(path)"))
        #expect(cli.output.contains("--help"))
        #expect(cli.error.isEmpty)
    }

    @Test func runHelpShowsItsOptions() {
        let cli = CLIHarness()
        _ = cli.run("run", "--help")
        #expect(cli.output.contains("Usage: colony run SPEC [--out DIR] [--cores N] [--cpu-limit PCT]\n                  [--normal-priority]"))
        #expect(cli.output.contains("\n  --cpu-limit PCT             Use at most PCT% of each core, by duty cycle (default: 100).\n"))
        #expect(cli.output.split(separator: "\n").allSatisfy { $0.count <= 120 })
    }

    @Test func anUnknownOptionIsAUsageErrorWithASuggestion() {
        let cli = CLIHarness()
        #expect(cli.run("run", "spec.json", "--corse", "2") == 2)
        #expect(cli.error == "error: unknown option '--corse'; did you mean '--cores'?\nSee 'colony run --help'.\n")
    }

    @Test func anUnknownCommandIsAUsageError() {
        let cli = CLIHarness()
        #expect(cli.run("rnu") == 2)
        #expect(cli.error.hasPrefix("error: unknown command 'rnu'; did you mean 'run'?"))
    }

    @Test(arguments: [
        (["run"], "error: missing SPEC"),
        (["run", "a.json", "b.json"], "error: unexpected argument 'b.json'"),
        (["run", "a.json", "--cores"], "error: --cores needs a value (N)"),
        (["run", "a.json", "--cores", "two"], "error: --cores two: expected an integer from 1 to 1024"),
        (["run", "a.json", "--cpu-limit", "0"], "error: --cpu-limit 0: expected an integer from 1 to 100"),
        (["run", "a.json", "--json=yes"], "error: --json is a flag and takes no value"),
        (["run", "a.json", "--out", "x", "--out", "y"], "error: --out is given more than once"),
        (["kernels", "-x"], "error: unknown option '-x'"),
    ])
    func badCommandLinesExitTwo(arguments: [String], message: String) {
        let cli = CLIHarness()
        #expect(cli.run(arguments) == 2)
        #expect(cli.error.hasPrefix(message))
    }

    @Test func aGroupWithoutASubcommandShowsItsHelpAndExitsTwo() {
        let cli = CLIHarness()
        #expect(cli.run("bench") == 2)
        #expect(cli.error.contains("Usage: colony bench COMMAND"))
    }

    @Test func versionPrints() {
        let cli = CLIHarness()
        #expect(cli.run("--version") == 0)
        #expect(cli.output == "colony \(ColonyCLI.version)\n")
    }

    @Test func kernelsListsTheCompiledInKernels() throws {
        let cli = CLIHarness()
        #expect(cli.run("kernels", "--json") == 0)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["collatz", "montecarlo-pi"])
        #expect(list.allSatisfy { $0["version"] as? Int == 1 && ($0["summary"] as? String)?.isEmpty == false })
        let text = CLIHarness()
        #expect(text.run("kernels") == 0)
        #expect(text.output.hasPrefix("collatz        v1  "))
    }

    @Test func kernelsShowsOneKernelsParameters() {
        let cli = CLIHarness()
        #expect(cli.run("kernels", "collatz") == 0)
        #expect(cli.output.contains("valuesPerUnit"))
        #expect(cli.run("kernels", "nope") == 2)
        #expect(cli.error == "error: no kernel named 'nope'; compiled in: collatz, montecarlo-pi\n")
    }
}
