import Foundation
import Testing

/// A program or library some tests need that a fresh machine may lack (README, Tests): Pillow, pngfix, primesieve,
/// gmpy2, libtorrent's Python bindings, prometheus_client, Chromium, nftables, network namespaces.
///
/// The rule every such test follows:
/// - it runs when the tool is present, or when `COLONY_CI` is set;
/// - when it does not run, `swift test` prints one line naming the tool and how to install it (`skipNote`);
/// - under `COLONY_CI` a missing tool fails the test (`require()`): CI installs every tool, so a test CI needs is
///   never skipped silently there.
///
/// A gated test reads
///
///     @Test(ExternalTool.pillow.gate)
///     func decodes() throws {
///         try ExternalTool.pillow.require()
///         …
///     }
public struct ExternalTool: Sendable, CustomStringConvertible {
    /// The tool's name as a user knows it.
    public let name: String
    /// The command that installs it on Debian.
    public let install: String
    private let probe: @Sendable () -> Bool

    public init(name: String, install: String, probe: @escaping @Sendable () -> Bool) {
        self.name = name
        self.install = install
        self.probe = probe
    }

    public var description: String { name }

    /// Whether CI is running the tests (`.ci/run` sets `COLONY_CI`).
    public static var isCI: Bool { ProcessInfo.processInfo.environment["COLONY_CI"] != nil }

    /// Whether the tool is on this machine (probed once per process).
    public var isPresent: Bool { ToolProbes.shared.isPresent(self, probe: probe) }

    /// Whether a test needing the tool runs here: it is present, or CI is running (where its absence fails).
    public var shouldRun: Bool { Self.isCI || isPresent }

    /// The line `swift test` shows for a test skipped because the tool is missing.
    public var skipNote: String { "needs \(name), not found here: \(install) (always runs under COLONY_CI)" }

    /// The trait that gates a test on the tool: it runs when `shouldRun`, else is skipped with `skipNote`.
    public var gate: ConditionTrait { .enabled(if: shouldRun, Comment(rawValue: skipNote)) }

    /// Throws, failing the test with how to install the tool, when it is missing (only reachable under CI, where
    /// `shouldRun` lets a test run without its tool).
    public func require() throws {
        guard isPresent else { throw MissingTool(tool: self) }
    }

    /// A gate on several tools: the test runs when all are present, or under CI; the skip line names the
    /// missing ones.
    public static func gate(_ tools: ExternalTool...) -> ConditionTrait {
        let missing = tools.filter { !$0.isPresent }
        let note = "needs \(missing.map { "\($0.name) (\($0.install))" }.joined(separator: "; ")), not found here "
            + "(always runs under COLONY_CI)"
        return .enabled(if: isCI || missing.isEmpty, Comment(rawValue: note))
    }

    /// Throws under CI when any of `tools` is missing.
    public static func require(_ tools: ExternalTool...) throws {
        for tool in tools { try tool.require() }
    }
}

/// What a gated test throws under CI when its tool is missing.
public struct MissingTool: Error, CustomStringConvertible {
    public var tool: ExternalTool
    public var description: String {
        "COLONY_CI is set but \(tool.name) is missing: \(tool.install). .ci/run installs it; a test CI needs is never skipped there."
    }
}

// MARK: The tools

extension ExternalTool {
    /// Python's imaging library, for Debian's `/usr/bin/python3`: decodes our PNGs to exact pixels.
    public static let pillow = ExternalTool(name: "Pillow", install: "apt-get install python3-pil") {
        Probe.succeeds("/usr/bin/python3", ["-c", "import PIL.Image"])
    }

    /// libpng's `pngfix`: checks a PNG's structure and checksums.
    public static let pngfix = ExternalTool(name: "pngfix", install: "apt-get install libpng-tools") {
        Probe.onPath("pngfix") != nil
    }

    /// The `primesieve` program, the reference for `colony bench primes`.
    public static let primesieve = ExternalTool(name: "primesieve", install: "apt-get install primesieve") {
        Probe.onPath("primesieve") != nil
    }

    /// gmpy2 (GMP for Python), the reference for `colony bench mersenne`.
    public static let gmpy2 = ExternalTool(name: "gmpy2", install: "apt-get install python3-gmpy2") {
        Probe.succeeds("/usr/bin/python3", ["-c", "import gmpy2"])
            || Probe.onPath("python3").map { Probe.succeeds($0, ["-c", "import gmpy2"]) } == true
    }

    /// libtorrent's Python bindings for the `python3` on PATH: a real BitTorrent DHT node.
    public static let libtorrent = ExternalTool(name: "libtorrent's Python bindings", install: "pip install libtorrent==2.1.1") {
        Probe.onPath("python3").map { Probe.succeeds($0, ["-c", "import libtorrent"]) } == true
    }

    /// Python's prometheus_client, for the `python3` on PATH: the reference parser of the Prometheus text format.
    public static let prometheusClient = ExternalTool(
        name: "prometheus_client", install: "python3 -m pip install prometheus_client==0.26.0"
    ) {
        Probe.onPath("python3").map { Probe.succeeds($0, ["-c", "import prometheus_client.parser"]) } == true
    }

    /// Debian's Chromium, headless: renders the donor's page.
    public static let chromium = ExternalTool(name: "Chromium", install: "apt-get install chromium") {
        Probe.onPath("chromium") != nil
    }

    /// nftables' `nft`: NAT between test network namespaces.
    public static let nftables = ExternalTool(name: "nftables", install: "apt-get install nftables") {
        Probe.onPath("nft") != nil
    }

    /// Network namespaces: `ip netns` from iproute2, and the right to make one (root).
    public static let networkNamespaces = ExternalTool(
        name: "network namespaces (ip netns, as root)", install: "apt-get install iproute2, and run the tests as root"
    ) {
        guard let ip = Probe.onPath("ip"), getuid() == 0 else { return false }
        let name = "colony-probe-\(getpid())"
        guard Probe.succeeds(ip, ["netns", "add", name]) else { return false }
        _ = Probe.succeeds(ip, ["netns", "delete", name])
        return true
    }
}

// MARK: Probing

/// Probes run once per process: every gated test asks at load time, and a probe starts a process.
final class ToolProbes: @unchecked Sendable {
    static let shared = ToolProbes()
    // Guarded by `lock`: results by tool name.
    private var results: [String: Bool] = [:]
    private let lock = NSLock()

    func isPresent(_ tool: ExternalTool, probe: () -> Bool) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if let known = results[tool.name] { return known }
        let present = probe()
        results[tool.name] = present
        return present
    }
}

/// Looks for programs and runs them quietly.
public enum Probe {
    /// The full path of `program` on PATH, if any.
    public static func onPath(_ program: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") {
            let candidate = "\(folder)/\(program)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// True when `executable` with `arguments` exits 0 (its output discarded).
    public static func succeeds(_ executable: String, _ arguments: [String]) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: executable) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
