import ColonyKernel
import Foundation
import MersenneKernel
import PrimesKernel
import Testing

/// Small runs of the `colony bench` commands. The reference programs (primesieve, gmpy2) are installed
/// by `.ci/run`; elsewhere those tests run only when the program is present.
@Suite struct BenchCommandTests {
    static var ci: Bool { ProcessInfo.processInfo.environment["COLONY_CI"] != nil }
    static var hasPrimesieve: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").contains {
            FileManager.default.isExecutableFile(atPath: "\($0)/primesieve")
        }
    }
    static var hasGmpy2: Bool {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", "import gmpy2"]
        python.standardError = FileHandle.nullDevice
        guard (try? python.run()) != nil else { return false }
        python.waitUntilExit()
        return python.terminationStatus == 0
    }

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
        #expect(cli.run("bench", "engine", "--spec", spec, "--rounds", "1", "--json") == 0)
        let report = try json(cli.output)
        let result = try #require((report["results"] as? [[String: Any]])?.first)
        #expect(result["kernel"] as? String == "primes")
        #expect(result["units"] as? Int == 20)
        #expect(result["outputsIdentical"] as? Bool == true)
        let efficiency = try #require(result["efficiency"] as? Double)
        let bare = try #require(result["bareSeconds"] as? Double)
        let engine = try #require(result["engineSeconds"] as? Double)
        #expect(bare > 0 && engine > 0)
        #expect(abs(efficiency - bare / engine) < 1e-9)
    }

    @Test(.enabled(if: ci || hasPrimesieve)) func benchPrimesAgreesWithPrimesieve() throws {
        let cli = harness()
        defer { cli.cleanUp() }
        #expect(cli.run("bench", "primes", "--below", "1e7", "--rounds", "1", "--json") == 0, "\(cli.error)")
        let report = try json(cli.output)
        let results = try #require(report["results"] as? [[String: Any]])
        #expect(results.count == 2)
        for result in results {
            #expect(result["count"] as? Int == 664_579)
            #expect((result["ratio"] as? Double ?? 0) > 0)
        }
    }

    @Test(.enabled(if: ci || hasGmpy2)) func benchMersenneFindsTheSamePrimesAsGMP() throws {
        let cli = harness()
        defer { cli.cleanUp() }
        #expect(cli.run("bench", "mersenne", "--from", "80", "--below", "700", "--rounds", "1", "--json") == 0, "\(cli.error)")
        let report = try json(cli.output)
        #expect(report["mersennePrimes"] as? [Int] == [89, 107, 127, 521, 607])
        #expect((report["ratio"] as? Double ?? 0) > 0)
    }
}
