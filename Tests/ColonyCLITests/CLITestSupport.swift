import CollatzKernel
import ColonyCLI
import ColonyKernel
import Foundation
import MonteCarloPiKernel
import Synchronization

/// Runs `colony` in-process with a captured console.
struct CLIHarness {
    final class Capture: Sendable {
        let output = Mutex("")
        let error = Mutex("")
    }

    /// The harness's folder, removed when the last copy of the harness is gone, `cleanUp` or not (the tests that
    /// never called it left a folder in the temporary directory each, 24 per `swift test`).
    final class Folder: Sendable {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("colony-cli-\(UUID().uuidString)")
        init() { try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
    }

    let capture = Capture()
    private let owned = Folder()
    var folder: URL { owned.url }
    var terminal = false
    var registry = KernelRegistry([CollatzKernel.self, MonteCarloPiKernel.self])
    /// Environment variables besides the data directory and home.
    var variables: [String: String] = [:]

    var output: String { capture.output.withLock { $0 } }
    var error: String { capture.error.withLock { $0 } }

    /// Runs a command line; the data directory is private to this harness.
    func run(_ arguments: String...) -> Int32 {
        run(arguments)
    }

    func run(_ arguments: [String]) -> Int32 {
        let capture = capture
        let console = Console(
            writeOutput: { text in capture.output.withLock { $0 += text } },
            writeError: { text in capture.error.withLock { $0 += text } },
            errorIsTerminal: terminal)
        // Kernel hosts are the built colony binary: this test process has no `kernel-host` command.
        let environment = CommandEnvironment(
            registry: registry, console: console,
            variables: variables.merging(
                ["COLONY_DATA_DIR": folder.appendingPathComponent("data").path, "HOME": folder.path]) { $1 },
            kernelHost: colonyExecutable()?.path)
        return ColonyCLI.run(arguments, in: environment)
    }

    /// Writes a spec file into the harness's folder and returns its path.
    func spec(_ name: String, _ text: String) -> String {
        let url = folder.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }
}

/// The `colony` executable next to the test bundle (`swift build` puts both in the same folder).
func colonyExecutable() -> URL? {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("colony")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    return nil
}

/// A command's report: the last line of its `--json` output that is a JSON object, parsed. Throws, quoting the
/// output, when there is none.
func lastJSONObject(in text: String) throws -> [String: Any] {
    struct NoReport: Error, CustomStringConvertible { var description: String }
    guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw NoReport(description: "no JSON object in the output: \(text)") }
    return object
}
