/// Splits a command line according to a `CommandDescription`, refusing anything it does not describe.
struct ArgumentParser {
    let description: CommandDescription
    let commandPath: String

    /// What the command line asked for: the parsed arguments, or help.
    enum Outcome {
        case arguments(ParsedArguments)
        case help
    }

    func parse(_ arguments: [String]) throws(UsageError) -> Outcome {
        var positionals: [String] = []
        var values: [String: [String]] = [:]
        var flags = Set<String>()
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            var argument = arguments[index]
            index += 1
            if optionsEnded || !argument.hasPrefix("-") || argument == "-" {
                positionals.append(argument)
                continue
            }
            if argument == "--" {
                optionsEnded = true
                continue
            }
            if argument == "--help" || argument == "-h" { return .help }
            if !argument.hasPrefix("--"), argument.count == 2,
                let option = description.options.first(where: { $0.short == argument.last })
            {
                argument = "--" + option.name
            }
            guard argument.hasPrefix("--") else {
                throw UsageError("unknown option '\(argument)'", commandPath: commandPath)
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let option = description.option(named: name) else {
                throw UsageError("unknown option '--\(name)'\(suggestion(for: name))", commandPath: commandPath)
            }
            if option.takesValue {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else if index < arguments.count {
                    value = arguments[index]
                    index += 1
                } else {
                    throw UsageError("--\(name) needs a value (\(option.valueName!))", commandPath: commandPath)
                }
                if !option.isRepeatable, values[name] != nil {
                    throw UsageError("--\(name) is given more than once", commandPath: commandPath)
                }
                values[name, default: []].append(value)
            } else {
                if inlineValue != nil {
                    throw UsageError("--\(name) is a flag and takes no value", commandPath: commandPath)
                }
                flags.insert(name)
            }
        }
        let required = description.positionals.filter { !$0.isOptional }.count
        if positionals.count < required {
            let missing = description.positionals[positionals.count]
            throw UsageError("missing \(missing.name): \(missing.help)", commandPath: commandPath)
        }
        if positionals.count > description.positionals.count {
            let extra = positionals[description.positionals.count]
            throw UsageError("unexpected argument '\(extra)'", commandPath: commandPath)
        }
        return .arguments(
            ParsedArguments(commandPath: commandPath, positionals: positionals, values: values, flags: flags))
    }

    /// " (did you mean '--cores'?)" when a known option is one or two edits away.
    private func suggestion(for name: String) -> String {
        let names = description.options.map(\.name) + ["help"]
        let close = names.map { ($0, Self.editDistance($0, name)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }
        return close.map { "; did you mean '--\($0.0)'?" } ?? ""
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
