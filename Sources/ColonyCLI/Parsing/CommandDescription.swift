/// What a command accepts, from which both parsing and `--help` are derived.
public struct CommandDescription: Sendable {
    /// The command's word: `run`, `engine`.
    public var name: String
    /// One line for command lists.
    public var abstract: String
    /// Paragraphs shown after the usage line by `--help`.
    public var discussion: String?
    /// Positional arguments, in order.
    public var positionals: [PositionalDescription]
    /// Options and flags; `--help` is added to every command.
    public var options: [OptionDescription]
    /// Example command lines shown by `--help`.
    public var examples: [String]

    /// A command named `name`.
    public init(
        name: String, abstract: String, discussion: String? = nil, positionals: [PositionalDescription] = [],
        options: [OptionDescription] = [], examples: [String] = []
    ) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.positionals = positionals
        self.options = options
        self.examples = examples
    }

    /// The option spelled `--name`, if the command has it.
    func option(named name: String) -> OptionDescription? {
        options.first { $0.name == name }
    }
}

/// A positional argument: `SPEC`.
public struct PositionalDescription: Sendable {
    /// The placeholder shown in usage: `SPEC`.
    public var name: String
    /// What it is.
    public var help: String
    /// Whether it may be left out.
    public var isOptional: Bool

    /// A positional argument shown as `name`.
    public init(_ name: String, help: String, isOptional: Bool = false) {
        self.name = name
        self.help = help
        self.isOptional = isOptional
    }
}

/// An option that takes a value (`--cores N`) or a flag (`--json`).
public struct OptionDescription: Sendable {
    /// The long name without dashes: `cores`.
    public var name: String
    /// The value's placeholder (`N`), or nil for a flag.
    public var valueName: String?
    /// What it does, including its default.
    public var help: String
    /// Whether it may be given more than once (`--bootstrap A --bootstrap B`).
    public var isRepeatable: Bool
    /// A one-letter spelling (`o` for `-o`), or nil.
    public var short: Character? = nil

    /// An option `--name VALUE`.
    public static func value(
        _ name: String, _ valueName: String, help: String, repeatable: Bool = false, short: Character? = nil
    ) -> OptionDescription {
        OptionDescription(name: name, valueName: valueName, help: help, isRepeatable: repeatable, short: short)
    }

    /// A flag `--name`.
    public static func flag(_ name: String, help: String) -> OptionDescription {
        OptionDescription(name: name, valueName: nil, help: help, isRepeatable: false)
    }

    /// Whether the option takes a value.
    var takesValue: Bool { valueName != nil }

    /// How the option appears in help: `--cores N`.
    var synopsis: String { (short.map { "-\($0), " } ?? "") + "--" + name + (valueName.map { " " + $0 } ?? "") }
}
