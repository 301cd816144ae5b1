import ColonyKernel
import ColonyTestSupport
import Foundation
import MersenneKernel
import PrimesKernel
import Testing

/// Small runs of the `colony bench` commands. The reference programs (primesieve, gmpy2) are installed by
/// `.ci/run`; elsewhere those tests run only when the program is present (ExternalTool).
@Suite struct BenchCommandTests {
    func harness() -> CLIHarness {
        var cli = CLIHarness()
        cli.registry = KernelRegistry([PrimesKernel.self, MersenneKernel.self])
        return cli
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func benchEngineComparesTheEngineWithBareConcurrentPerform() throws {
        let cli = harness()
        defer { cli.cleanUp() }
        let spec = cli.spec("p.json", #"{"kernel": "primes", "parameters": {"to": 2000000, "numbersPerUnit": 100000}}"#)
        // In-process: this test process is no colony binary, so it cannot host kernels (IsolationTests runs the
        // isolated bench through the real binary).
        #expect(cli.run("bench", "engine", "--spec", spec, "--rounds", "1", "--json", "--in-process") == 0)
        let report = try json(cli.output)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.count == 1)
        let result = try #require(results.first)
        #expect(result["kernel"] as? String == "primes")
        #expect(result["mode"] as? String == "in-process")
        #expect(result["units"] as? Int == 20)
        #expect(result["outputsIdentical"] as? Bool == true)
        let efficiency = try #require(result["efficiency"] as? Double)
        let bare = try #require(result["bareSeconds"] as? Double)
        let engine = try #require(result["engineSeconds"] as? Double)
        #expect(bare > 0 && engine > 0)
        #expect(abs(efficiency - bare / engine) < 1e-9)
    }

    @Test(ExternalTool.primesieve.gate) func benchPrimesAgreesWithPrimesieve() throws {
        try ExternalTool.primesieve.require()
        let cli = harness()
        defer { cli.cleanUp() }
        #expect(cli.run("bench", "primes", "--below", "1e8", "--rounds", "1", "--json") == 0, "\(cli.error)")
        let report = try json(cli.output)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.count == 2)
        for result in results {
            #expect(result["count"] as? Int == 5_761_455)
            #expect((result["ratio"] as? Double ?? 0) > 0)
        }
        // A range primesieve counts in under a millisecond reads 0.000 on its timer: no ratio, and the note says why.
        let small = harness()
        defer { small.cleanUp() }
        #expect(small.run("bench", "primes", "--below", "1000", "--rounds", "1", "--json") == 0, "\(small.error)")
        let tiny = try #require(try json(small.output)["results"] as? [[String: Any]])
        #expect(tiny.allSatisfy { $0["count"] as? Int == 168 && $0["ratio"] is NSNull })
        #expect(small.error.contains("under a millisecond"))
    }

    @Test(ExternalTool.gmpy2.gate) func benchMersenneFindsTheSamePrimesAsGMP() throws {
        try ExternalTool.gmpy2.require()
        let cli = harness()
        defer { cli.cleanUp() }
        #expect(cli.run("bench", "mersenne", "--from", "80", "--below", "700", "--rounds", "1", "--json") == 0, "\(cli.error)")
        let report = try json(cli.output)
        #expect(report["mersennePrimes"] as? [Int] == [89, 107, 127, 521, 607])
        #expect((report["ratio"] as? Double ?? 0) > 0)
    }

    /// The CPU overhead weighs each run of a unit by what the unit cost here: replicated, every unit runs exactly
    /// twice, so it is 100 % whatever the units cost; adaptive runs some units once, so it is less.
    @Test func benchAdaptiveWeighsRunsByWhatEachUnitCost() throws {
        let cli = harness()
        defer { cli.cleanUp() }
        let spec = cli.spec("m.json", #"{"kernel": "mersenne", "parameters": {"below": 1500, "exponentsPerUnit": 4}}"#)
        #expect(
            cli.run("bench", "adaptive", "--spec", spec, "--peers", "2", "--scenarios", "replicated,adaptive", "--json") == 0,
            "\(cli.error)")
        let report = try json(cli.output)
        #expect((report["localCPUSeconds"] as? Double ?? 0) > 0)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.map { $0["scenario"] as? String } == ["replicated", "adaptive"])
        let replicated = try #require(results.first?["cpuOverhead"] as? Double)
        #expect(abs(replicated - 1) < 1e-9)
        #expect(results.first?["computed"] as? Int == 2 * (results.first?["validated"] as? Int ?? 0))
        let adaptive = try #require(results.last?["cpuOverhead"] as? Double)
        #expect(adaptive >= 0 && adaptive < 1)
    }
}
