import ColonyWork
import Foundation

/// The options `colony run` and `colony worker` share on how units are isolated.
enum IsolationOptions {
    static let inProcess = OptionDescription.flag(
        "in-process", help: "Run kernels on threads of this process instead of a child process per core.")
    static let memoryLimit = OptionDescription.value(
        "memory-limit", "MIB", help: "Memory one unit may use before it is ended (default: RAM / cores).")

    /// Isolation by this program's own `kernel-host` command, unless `--in-process` asks for threads; without
    /// `--memory-limit` a unit may use `defaultMemoryLimit` bytes (RAM / cores when nil).
    static func isolation(
        _ arguments: ParsedArguments, cores: Int, in environment: CommandEnvironment, defaultMemoryLimit: Int? = nil
    ) throws
        -> KernelIsolation?
    {
        let megabytes = try arguments.int("memory-limit", in: 64...(1 << 24))
        if arguments.flag("in-process") {
            if megabytes != nil {
                throw UsageError(
                    "--memory-limit needs kernels in a child process; drop --in-process",
                    commandPath: arguments.commandPath)
            }
            return nil
        }
        var isolation = try environment.isolation()
        isolation.memoryLimitBytes = megabytes.map { $0 << 20 }
            ?? defaultMemoryLimit ?? KernelIsolation.defaultMemoryLimit(cores: cores)
        return isolation
    }
}
