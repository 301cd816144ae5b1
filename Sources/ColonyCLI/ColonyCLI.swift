import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// The `colony` command line, as a library so that custom workers with their own kernels reuse it:
///
///     // Sources/my-worker/main.swift
///     import ColonyCLI
///     ColonyCLI.main(kernels: [MyKernel.self])
public enum ColonyCLI {
    /// The version `colony --version` prints.
    public static let version = "0.1.0"

    /// Runs the command line of this process with `kernels` compiled in, and exits with its status.
    /// `COLONY_TEST_KERNELS=1` adds the misbehaving kernels the isolation tests need (`IsolationTestKernels`).
    public static func main(kernels: [any ComputeKernel.Type]) -> Never {
        let all = IsolationTestKernels.adding(to: kernels, environment: ProcessInfo.processInfo.environment)
        let environment = CommandEnvironment(
            registry: KernelRegistry(all), kernelHost: KernelIsolation.currentExecutable()?.executable)
        exit(run(Array(CommandLine.arguments.dropFirst()), in: environment))
    }

    /// The hidden command a worker starts its kernel hosts with; not listed in help, not meant for people.
    public static let kernelHostCommand = "kernel-host"

    /// Runs one command line (without the program name) and returns its exit status.
    public static func run(_ arguments: [String], in environment: CommandEnvironment) -> Int32 {
        let console = environment.console
        if arguments.first == kernelHostCommand {
            return KernelHostServer.serve(arguments: Array(arguments.dropFirst()), registry: environment.registry)
        }
        var command: any Command.Type = RootCommand.self
        var path = "colony"
        var remaining = arguments[...]
        if remaining.first == "help" {
            // `colony help bench engine` is `colony bench engine --help`.
            remaining = remaining.dropFirst() + ["--help"]
        }
        while let word = remaining.first, !command.subcommands.isEmpty, !word.hasPrefix("-") {
            guard let next = command.subcommands.first(where: { $0.description.name == word }) else {
                let names = command.subcommands.map { $0.description.name }
                let close = names.min { ArgumentParser.editDistance($0, word) < ArgumentParser.editDistance($1, word) }
                let hint = close.flatMap { ArgumentParser.editDistance($0, word) <= 2 ? "; did you mean '\($0)'?" : nil }
                return usageFailure(UsageError("unknown command '\(word)'" + (hint ?? ""), commandPath: path), console)
            }
            command = next
            path += " " + word
            remaining = remaining.dropFirst()
        }
        if ObjectIdentifier(command) == ObjectIdentifier(RootCommand.self), remaining.first == "--version" {
            console.print("colony \(version)")
            return ExitStatus.success
        }
        let parser = ArgumentParser(description: command.description, commandPath: path)
        do {
            switch try parser.parse(Array(remaining)) {
            case .help:
                console.writeOutput(help(for: command, path: path))
                return ExitStatus.success
            case .arguments(let parsed):
                if !command.subcommands.isEmpty {
                    console.writeError(help(for: command, path: path))
                    return ExitStatus.usage
                }
                return try command.run(parsed, in: environment)
            }
        } catch let error as UsageError {
            return usageFailure(error, console)
        } catch let error as JobSpecError {
            console.note("error: \(error)")
            return ExitStatus.usage
        } catch let error as KernelParameterError {
            console.note("error: \(error)")
            return ExitStatus.usage
        } catch let error as InputError {
            console.note("error: \(error)")
            return ExitStatus.usage
        } catch {
            console.note("error: \(error)")
            return ExitStatus.failure
        }
    }

    private static func help(for command: any Command.Type, path: String) -> String {
        HelpFormatter.help(
            for: command.description, commandPath: path, subcommands: command.subcommands.map { $0.description })
    }

    private static func usageFailure(_ error: UsageError, _ console: Console) -> Int32 {
        console.note("error: \(error.message)")
        console.note("See '\(error.commandPath) --help'.")
        return ExitStatus.usage
    }
}

/// A user's input that cannot be used (a file that does not exist, a value out of range): exit status 2.
struct InputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// `colony` itself: only a list of commands.
enum RootCommand: Command {
    static let description = CommandDescription(
        name: "colony",
        abstract: "volunteer computing on a Kademlia DHT",
        discussion: """
            Colony runs compute kernels on donated CPU. Jobs are JSON specs (see Workunits/); kernels are \
            compiled in (see 'colony kernels').
            """,
        options: [.flag("version", help: "Print the version.")],
        examples: ["colony run Workunits/mersenne-10k.json", "colony kernels", "colony bench engine"]
    )

    static var subcommands: [any Command.Type] { [
            DemoCommand.self, RunCommand.self, NodeCommand.self, WorkerCommand.self, PublishCommand.self, StatusCommand.self,
            ResultsCommand.self, CreditCommand.self, KernelsCommand.self, ConfigCommand.self, DHTCommand.self, BlobCommand.self, BenchCommand.self,
        ] }
}
