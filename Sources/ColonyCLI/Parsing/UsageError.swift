/// A command line that does not match the command's description: exits with status 2 and a pointer to `--help`.
public struct UsageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong, in one line.
    public var message: String
    /// The command it concerns, as typed: `colony run`.
    public var commandPath: String

    /// An error about `commandPath`.
    public init(_ message: String, commandPath: String) {
        self.message = message
        self.commandPath = commandPath
    }

    public var description: String { message }
}
