/// A command line split into options, flags and positionals, with typed access whose errors name the option.
public struct ParsedArguments: Sendable {
    /// The command as typed so far: `colony bench engine`.
    public let commandPath: String
    /// Positional arguments in order.
    public let positionals: [String]
    private let values: [String: [String]]
    private let flags: Set<String>

    init(commandPath: String, positionals: [String], values: [String: [String]], flags: Set<String>) {
        self.commandPath = commandPath
        self.positionals = positionals
        self.values = values
        self.flags = flags
    }

    /// Whether the flag `--name` was given.
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The last value given to `--name`, if any.
    public func value(_ name: String) -> String? { values[name]?.last }

    /// Every value given to a repeatable `--name`, in order.
    public func values(_ name: String) -> [String] { values[name] ?? [] }

    /// The value of `--name` as an integer within `range`; accepts `1e9`, `10_000` and `64MiB`-free forms only.
    public func int(_ name: String, in range: ClosedRange<Int>) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let number = Self.parseInteger(text), range.contains(number) else {
            throw UsageError(
                "--\(name) \(text): expected an integer from \(range.lowerBound) to \(range.upperBound)",
                commandPath: commandPath)
        }
        return number
    }

    /// Reads `12`, `10_000`, `1e9` or `2.5e6` as an integer, when it is one.
    static func parseInteger(_ text: String) -> Int? {
        let cleaned = text.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: ",", with: "")
        if let exact = Int(cleaned) { return exact }
        guard cleaned.lowercased().contains("e"), let real = Double(cleaned), real.isFinite,
            real.rounded() == real, abs(real) < 9.0e18
        else { return nil }
        return Int(real)
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
