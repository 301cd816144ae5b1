/// Renders `--help` text from a `CommandDescription`.
enum HelpFormatter {
    static func help(for description: CommandDescription, commandPath: String, subcommands: [CommandDescription] = [])
        -> String
    {
        var lines: [String] = []
        lines.append("\(commandPath) — \(description.abstract)")
        lines.append("")
        let usageLine = "Usage: " + usage(for: description, commandPath: commandPath, hasSubcommands: !subcommands.isEmpty)
        let hanging = String(repeating: " ", count: 8 + commandPath.count)
        for (index, line) in wrapUsage(usageLine, width: 80).enumerated() {
            lines.append(index == 0 ? line : hanging + line)
        }
        if let discussion = description.discussion {
            lines.append("")
            for paragraph in discussion.split(separator: "\n", omittingEmptySubsequences: false) {
                lines.append(contentsOf: wrap(String(paragraph), width: 80))
            }
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
            let spelling = option.short.map { "-\($0)" + (option.valueName.map { " " + $0 } ?? "") } ?? option.synopsis
            parts.append("[" + spelling + "]" + (option.isRepeatable ? "..." : ""))
        }
        return parts.joined(separator: " ")
    }

    /// Breaks a usage line between its bracketed parts, keeping each `[--option VALUE]` whole.
    static func wrapUsage(_ text: String, width: Int) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            if character == "[" { depth += 1 }
            if character == "]" { depth -= 1 }
            if character == " ", depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        var lines: [String] = []
        var line = ""
        for part in parts {
            if !line.isEmpty, line.count + 1 + part.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + part
        }
        lines.append(line)
        return lines
    }

    /// Breaks `text` into lines of at most `width` characters at spaces.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(line)
        return lines
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
}
