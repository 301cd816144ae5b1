import ColonyCore
import ColonyKernel
import ColonyWork
import Foundation

/// `colony config`: shows the donor's preferences and where each came from, or sets one in the file.
enum ConfigCommand: Command {
    static let description = CommandDescription(
        name: "config",
        abstract: "Show the donor's preferences and where each comes from, or set one",
        discussion: """
            Preferences live in DATA/preferences.json. An environment variable (COLONY_ and the name in upper \
            snake case: COLONY_CPU_PERCENT) overrides the file, and a flag of 'colony worker' (--cores, \
            --cpu-limit) overrides both. 'colony config set NAME VALUE' checks the value and writes the file \
            atomically; VALUE 'off' clears a limit, lists are comma-separated, timeWindows is JSON.
            """,
        positionals: [
            PositionalDescription("set", help: "Set a preference in the file.", isOptional: true),
            PositionalDescription("NAME", help: "The preference to set.", isOptional: true),
            PositionalDescription("VALUE", help: "Its value.", isOptional: true),
        ],
        options: PreferenceOptions.flags + [.dataDir, .json],
        examples: [
            "colony config", "colony config --json", "colony config set cpuPercent 50",
            #"colony config set timeWindows '[{"days":"mon-fri","from":"18:00","to":"08:00"}]'"#,
        ]
    )

    static func run(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        switch arguments.positionals.count {
        case 0: return try show(arguments, in: environment)
        case 3 where arguments.positionals[0] == "set":
            return try set(arguments.positionals[1], arguments.positionals[2], arguments, in: environment)
        default:
            throw UsageError("expected no arguments, or 'set NAME VALUE'", commandPath: arguments.commandPath)
        }
    }

    static func show(_ arguments: ParsedArguments, in environment: CommandEnvironment) throws -> Int32 {
        let effective = try PreferenceOptions.effective(arguments, in: environment)
        let fields = PreferenceField.fields
        if arguments.flag("json") {
            let entries = fields.map { field -> (String, JSONValue) in
                (
                    field.name,
                    .object([
                        "value": field.value(in: effective.preferences),
                        "source": .string(effective.source(of: field.name).description),
                    ])
                )
            }
            environment.console.printJSON(.object(Dictionary(uniqueKeysWithValues: entries)))
            return ExitStatus.success
        }
        let rows = fields.map { field in
            (
                field.name, JSONText.serialize(field.value(in: effective.preferences)),
                effective.source(of: field.name).description
            )
        }
        let nameWidth = rows.map(\.0.count).max() ?? 0
        let valueWidth = rows.map(\.1.count).max() ?? 0
        environment.console.print("preferences: \(PreferencesFile.url(in: environment.dataDirectory(arguments)).path)")
        for (name, value, source) in rows {
            environment.console.print(padded(name, nameWidth) + "  " + padded(value, valueWidth) + "  (" + source + ")")
        }
        return ExitStatus.success
    }

    static func set(
        _ name: String, _ text: String, _ arguments: ParsedArguments, in environment: CommandEnvironment
    ) throws -> Int32 {
        let editor = PreferencesEditor(arguments, in: environment)
        do {
            let value = PreferenceField.named(name)?.json(fromText: text) ?? .string(text)
            let effective = try editor.set([name: value], source: "colony config set")
            let stored = try PreferencesFile.read(editor.file)[name] ?? .null
            environment.console.print("\(name) = \(JSONText.serialize(stored)) in \(editor.file.path)")
            let source = effective.source(of: name)
            if source.overridesFile { environment.console.note("note: \(source) overrides the file") }
        } catch let error as PreferenceError {
            throw InputError(error.description)
        }
        return ExitStatus.success
    }

    private static func padded(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
