import Foundation
import Testing

@Suite struct RunCommandTests {
    @Test func runsAJobAndPrintsOneJSONObject() throws {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        let spec = cli.spec("collatz.json", #"{"kernel": "collatz", "parameters": {"to": 100000, "valuesPerUnit": 10000}}"#)
        let out = cli.folder.appendingPathComponent("result").path
        #expect(cli.run("run", spec, "--out", out, "--json") == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(cli.output.utf8)) as? [String: Any])
        #expect(report["kernel"] as? String == "collatz")
        #expect(report["units"] as? Int == 10)
        #expect(report["computed"] as? Int == 10)
        #expect((report["seconds"] as? Double ?? -1) >= 0)
        let summary = try #require(report["summary"] as? [String: Any])
        // Below 10^5 the longest trajectory starts at 77031 and takes 350 steps (OEIS A006877).
        #expect(summary["value"] as? Int == 77031)
        #expect(summary["steps"] as? Int == 350)
        let files = try #require(report["files"] as? [String])
        #expect(files == [out + "/summary.json"])
        #expect(FileManager.default.fileExists(atPath: out + "/summary.json"))
        #expect(cli.error.isEmpty, "quiet on a pipe")
    }

    @Test func textOutputGivesTheHeadline() {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        let spec = cli.spec("pi.json", #"{"kernel": "montecarlo-pi", "parameters": {"samples": 200000, "samplesPerUnit": 50000}}"#)
        #expect(cli.run("run", spec, "--out", cli.folder.appendingPathComponent("r").path) == 0)
        #expect(cli.output.hasPrefix("π ≈ 3.1"))
        #expect(cli.output.contains("4 units in "))
    }

    /// Each bad spec gives exit status 2 and one line naming the file and the field.
    @Test(arguments: [
        ("missing.json", #"{"parameters": {"to": 100}}"#, "missing.json: kernel is missing"),
        ("wrongtype.json", #"{"kernel": "collatz", "parameters": {"to": "lots"}}"#, "wrongtype.json: parameters.to is a string (\"lots\")"),
        ("unknown.json", #"{"kernel": "fermat", "parameters": {}}"#, "unknown.json: kernel is \"fermat\", which is not compiled in"),
        ("empty.json", #"{"kernel": "collatz", "parameters": {"from": 50, "to": 50}}"#, "empty.json: parameters.to is 50, not greater than from (50)"),
        ("reversed.json", #"{"kernel": "collatz", "parameters": {"from": 90, "to": 10}}"#, "reversed.json: parameters.to is 10, not greater than from (90)"),
        ("typo.json", #"{"kernel": "collatz", "parameters": {"to": 100, "valuesPerUnti": 5}}"#, "typo.json: parameters.valuesPerUnti is not a parameter of kernel collatz"),
        ("notjson.json", "kernel = collatz", "notjson.json: not valid JSON: Invalid value at line 1, column 1"),
    ])
    func badSpecsAreOneLineErrors(name: String, text: String, message: String) {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        let path = cli.spec(name, text)
        #expect(cli.run("run", path) == 2)
        #expect(cli.error.hasPrefix("error: " + path.replacingOccurrences(of: name, with: "") + message))
        #expect(cli.error.filter { $0 == "\n" }.count == 1, "one line: \(cli.error)")
        #expect(cli.output.isEmpty)
    }

    @Test func aMissingSpecFileIsNamed() {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("run", "no/such/spec.json") == 2)
        #expect(cli.error == "error: no/such/spec.json: does not exist; expected a JSON job spec file\n")
    }
}
