import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation
import Synchronization

/// A `colony` command: its description (from which parsing and help come) and what it does.
protocol Command {
    /// What the command accepts.
    static var description: CommandDescription { get }
    /// The commands under this one (`bench engine`); a command with subcommands runs none of its own.
    static var subcommands: [any Command.Type] { get }
    /// Does the work and returns the exit status.
    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32
}

extension Command {
    static var subcommands: [any Command.Type] { [] }

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        throw UsageError("missing command", commandPath: arguments.commandPath)
    }
}

/// Exit statuses: 0 success, 1 failure, 2 bad usage or input, 130 stopped by Ctrl-C (128 + SIGINT).
public enum ExitStatus {
    /// Everything asked for was done.
    public static let success: Int32 = 0
    /// The work failed (a kernel error, a file that could not be written).
    public static let failure: Int32 = 1
    /// The command line or an input file is wrong; nothing was done.
    public static let usage: Int32 = 2
    /// Stopped by SIGINT or SIGTERM after saving its state.
    public static let interrupted: Int32 = 130
}

/// What every command may use: the compiled-in kernels, the console, the environment.
public struct CommandEnvironment: Sendable {
    /// The kernels compiled into this program.
    public var registry: KernelRegistry
    /// Where output goes.
    public var console: Console
    /// The process environment (for `COLONY_DATA_DIR`).
    public var variables: [String: String]
    /// The program `run`, `worker` and `bench engine` start as kernel hosts: this program itself under `main`.
    /// Nil when there is none (a program embedding the commands without `main`); then they need `--in-process`.
    public var kernelHost: String?

    /// An environment for commands.
    public init(
        registry: KernelRegistry, console: Console = .system,
        variables: [String: String] = ProcessInfo.processInfo.environment, kernelHost: String? = nil
    ) {
        self.registry = registry
        self.console = console
        self.variables = variables
        self.kernelHost = kernelHost
    }

    /// Isolation by `kernelHost`'s hidden `kernel-host` command; throws when there is no kernel host.
    func isolation() throws -> KernelIsolation {
        guard let kernelHost else {
            throw InputError("no program to start kernel hosts with (this one's path is unknown); use --in-process")
        }
        return KernelIsolation(executable: kernelHost, command: [ColonyCLI.kernelHostCommand])
    }

    /// The data directory chosen by `--data-dir`, `COLONY_DATA_DIR` or the default.
    func dataDirectory(_ arguments: ParsedArguments) -> DataDirectory {
        DataDirectory.resolve(flag: arguments.value("data-dir"), environment: variables)
    }

    /// Claims the data directory for this process until it exits: the commands that serve (node, worker,
    /// `dht serve`, `blob put --serve`) run one to a data directory; a second is refused with exit status 1,
    /// naming the process that holds it. One-shot commands (status, results, publish, `dht get`, …) may run
    /// beside a serving one.
    func claim(_ directory: DataDirectory, for arguments: ParsedArguments) throws {
        let lock = try DataDirectoryLock.acquire(directory, command: arguments.commandPath)
        DataDirectoryClaims.held.withLock { $0.append(lock) }
    }
}

/// The data directory locks this process holds, kept for its life.
enum DataDirectoryClaims {
    static let held = Mutex<[DataDirectoryLock]>([])
}

extension OptionDescription {
    static let json = OptionDescription.flag("json", help: "Print one JSON object instead of text.")
    /// `--json` for commands that run until stopped and report as they go.
    static let jsonLines = OptionDescription.flag("json", help: "Print one JSON object per event, a line each, instead of text.")
    static let dataDir = OptionDescription.value(
        "data-dir", "DIR", help: "Data directory (default: $COLONY_DATA_DIR or ~/.colony).")
    static let cores = OptionDescription.value("cores", "N", help: "Cores to use (default: all).")
}
