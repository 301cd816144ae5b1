import ColonyCLI
import ColonyKernel
import ColonyWork
import Foundation
import Testing

@Suite("colony config")
struct ConfigCommandTests {
    func preferencesFile(_ cli: CLIHarness) -> URL { cli.folder.appendingPathComponent("data/preferences.json") }

    @Test("shows each effective value and where it came from")
    func showsSources() throws {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("config", "set", "memoryFraction", "0.5") == 0)
        let start = cli.output.count
        #expect(cli.run("config", "--cpu-limit", "70") == 0)
        let lines = cli.output.dropFirst(start).split(separator: "\n").map(String.init)
        let line = { (name: String) in lines.first { $0.hasPrefix(name + " ") } ?? "" }
        #expect(line("cpuPercent").contains(" 70 ") && line("cpuPercent").hasSuffix("(flag --cpu-limit)"))
        #expect(line("memoryFraction").contains("0.5") && line("memoryFraction").hasSuffix("(file)"))
        #expect(line("cores").contains("null") && line("cores").hasSuffix("(default)"))
        #expect(lines.first == "preferences: " + preferencesFile(cli).path)
    }

    @Test("--json gives each field's value and source")
    func json() throws {
        var cli = CLIHarness()
        defer { cli.cleanUp() }
        cli.variables["COLONY_CORES"] = "2"
        #expect(cli.run("config", "--json") == 0)
        let parsed = try JSONDecoder().decode(JSONValue.self, from: Data(cli.output.utf8))
        let fields = try #require(parsed.objectValue)
        #expect(fields["cores"] == .object(["value": .int(2), "source": .string("env COLONY_CORES")]))
        #expect(fields["cpuPercent"] == .object(["value": .int(100), "source": .string("default")]))
        #expect(fields.count == 15)   // every field in PreferenceField.fields
    }

    @Test("set checks the value, writes the file atomically and keeps the other fields")
    func setWrites() throws {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("config", "set", "cpuPercent", "50") == 0)
        #expect(cli.run("config", "set", "blockedKernels", "primes,collatz") == 0)
        #expect(cli.run("config", "set", "timeWindows", #"[{"days":"sat,sun","from":"00:00","to":"23:59"}]"#) == 0)
        let data = try Data(contentsOf: preferencesFile(cli))
        let fields = try #require(try JSONDecoder().decode(JSONValue.self, from: data).objectValue)
        #expect(fields["cpuPercent"] == .int(50))
        #expect(fields["blockedKernels"] == .array([.string("primes"), .string("collatz")]))
        #expect(fields.count == 3)
        // No temporary file is left beside it.
        let names = try FileManager.default.contentsOfDirectory(
            atPath: preferencesFile(cli).deletingLastPathComponent().path)
        #expect(!names.contains { $0.contains(".tmp-") })
        // And it reads back.
        let start = cli.output.count
        #expect(cli.run("config", "--json") == 0)
        let shown = try #require(
            try JSONDecoder().decode(JSONValue.self, from: Data(cli.output.dropFirst(start).utf8)).objectValue)
        #expect(shown["cpuPercent"] == .object(["value": .int(50), "source": .string("file")]))
    }

    @Test("set writes a field a variable or flag overrides, and says which one decides")
    func setNotesTheOverride() throws {
        var cli = CLIHarness()
        defer { cli.cleanUp() }
        cli.variables["COLONY_CPU_PERCENT"] = "70"
        #expect(cli.run("config", "set", "cpuPercent", "50") == 0)
        #expect(cli.error.contains("note: env COLONY_CPU_PERCENT overrides the file"))
        #expect(cli.run("config", "set", "cores", "3", "--cores", "2") == 0)
        #expect(cli.error.contains("note: flag --cores overrides the file"))
        let data = try Data(contentsOf: preferencesFile(cli))
        let fields = try #require(try JSONDecoder().decode(JSONValue.self, from: data).objectValue)
        #expect(fields == ["cpuPercent": .int(50), "cores": .int(3)])
    }

    @Test("set refuses a bad value or an unknown name and leaves the file as it was")
    func setRefuses() throws {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("config", "set", "cpuPercent", "50") == 0)
        let before = try Data(contentsOf: preferencesFile(cli))
        #expect(cli.run("config", "set", "cpuPercent", "fast") == 2)
        #expect(cli.error.contains(#"field "cpuPercent": expected a whole number from 1 to 100, got "fast""#))
        #expect(cli.run("config", "set", "cpuPercnt", "50") == 2)
        #expect(cli.error.contains("no preference named 'cpuPercnt'"))
        #expect(try Data(contentsOf: preferencesFile(cli)) == before)
    }

    @Test("a broken file is an error naming the file and the field")
    func brokenFile() throws {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        try FileManager.default.createDirectory(
            at: preferencesFile(cli).deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(#"{"memoryFraction": "lots"}"#.utf8).write(to: preferencesFile(cli))
        #expect(cli.run("config") == 2)
        #expect(
            cli.error.contains(
                #"preferences.json: field "memoryFraction": expected a fraction from 0.01 to 1, got "lots""#))
    }

    @Test("help shows the usage and the flags that override preferences")
    func help() {
        let cli = CLIHarness()
        defer { cli.cleanUp() }
        #expect(cli.run("config", "--help") == 0)
        #expect(cli.output.contains("Usage: colony config [set] [NAME] [VALUE] [--cores N] [--cpu-limit PCT]\n"))
        #expect(cli.output.contains("\n  --cores N        Cores to use (default: preference cores, else all).\n"))
        #expect(cli.run("config", "set", "cores") == 2)
        #expect(cli.error.contains("expected no arguments, or 'set NAME VALUE'"))
    }
}
