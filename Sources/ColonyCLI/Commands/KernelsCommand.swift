import ColonyKernel

/// `colony kernels`: the kernels compiled into this program.
enum KernelsCommand: Command {
    static let description = CommandDescription(
        name: "kernels",
        abstract: "List the compute kernels compiled into this program",
        discussion: "With a kernel's name, shows its parameters.",
        positionals: [PositionalDescription("KERNEL", help: "Show this kernel's parameters.", isOptional: true)],
        options: [.json],
        examples: ["colony kernels", "colony kernels mersenne", "colony kernels --json"]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let console = environment.console
        var kernels = environment.registry.kernels
        if let name = arguments.positionals.first {
            guard let kernel = environment.registry.kernelType(named: name) else {
                throw InputError(
                    "no kernel named '\(name)'; compiled in: " + environment.registry.names.joined(separator: ", "))
            }
            kernels = [kernel]
        }
        if arguments.flag("json") {
            console.printJSON(.array(kernels.map(json)))
            return ExitStatus.success
        }
        if arguments.positionals.isEmpty {
            let width = kernels.map { $0.name.count }.max() ?? 0
            for kernel in kernels {
                let name = kernel.name + String(repeating: " ", count: width - kernel.name.count)
                console.print("\(name)  v\(kernel.version)  \(kernel.summary)")
            }
            return ExitStatus.success
        }
        let kernel = kernels[0]
        console.print("\(kernel.name) v\(kernel.version): \(kernel.summary)")
        console.print("")
        console.print("Parameters:")
        let width = kernel.parameters.map(\.name.count).max() ?? 0
        for parameter in kernel.parameters {
            let name = parameter.name + String(repeating: " ", count: width - parameter.name.count)
            console.print("  \(name)  \(parameter.help)")
        }
        return ExitStatus.success
    }

    private static func json(_ kernel: any ComputeKernel.Type) -> JSONValue {
        .object([
            "name": .string(kernel.name),
            "version": .int(kernel.version),
            "summary": .string(kernel.summary),
            "parameters": .array(
                kernel.parameters.map { .object(["name": .string($0.name), "help": .string($0.help)]) }),
        ])
    }
}
