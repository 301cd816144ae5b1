/// Renders `--help` text from a `CommandDescription`.
enum HelpFormatter {
    static func help(for description: CommandDescription, commandPath: String, subcommands: [CommandDescription] = [])
        -> String
    {
        var lines: [String] = []
        lines.append("\(commandPath) — \(description.abstract)")
        lines.append("")
        lines.append("Usage: " + usage(for: description, commandPath: commandPath, hasSubcommands: !subcommands.isEmpty))
        if let discussion = description.discussion {
            lines.append("")
            lines.append(discussion)
        }
        if !subcommands.isEmpty {
            lines.append("")
            lines.append("Commands:")
            let width = subcommands.map(\.name.count).max() ?? 0
            for command in subcommands {
                lines.append("  " + pad(command.name, width) + "  " + command.abstract)
            }
        }
        if !description.positionals.isEmpty {
            lines.append("")
            lines.append("Arguments:")
            let width = description.positionals.map(\.name.count).max() ?? 0
            for positional in description.positionals {
                lines.append("  " + pad(positional.name, width) + "  " + positional.help)
            }
        }
        let options = description.options + [.flag("help", help: "Show this help.")]
        lines.append("")
        lines.append("Options:")
        let width = min(28, options.map(\.synopsis.count).max() ?? 0)
        for option in options {
            let synopsis = option.synopsis
            if synopsis.count > width {
                lines.append("  " + synopsis)
                lines.append("  " + pad("", width) + "  " + option.help)
            } else {
                lines.append("  " + pad(synopsis, width) + "  " + option.help)
            }
        }
        if !description.examples.isEmpty {
            lines.append("")
            lines.append("Examples:")
            for example in description.examples { lines.append("  " + example) }
        }
        if !subcommands.isEmpty {
            lines.append("")
            lines.append("See '\(commandPath) COMMAND --help' for a command's options.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func usage(for description: CommandDescription, commandPath: String, hasSubcommands: Bool) -> String {
        var parts = [commandPath]
        if hasSubcommands { parts.append("COMMAND") }
        for positional in description.positionals {
            parts.append(positional.isOptional ? "[\(positional.name)]" : positional.name)
        }
        for option in description.options {
            parts.append("[" + option.synopsis + "]" + (option.isRepeatable ? "..." : ""))
        }
        return parts.joined(separator: " ")
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
