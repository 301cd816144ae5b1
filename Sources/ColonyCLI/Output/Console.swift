import ColonyKernel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a command writes: results to standard output, progress and errors to standard error.
///
/// Injected so tests can capture what a command prints and pretend to be (or not be) a terminal.
public struct Console: Sendable {
    /// Writes text to standard output as is.
    public var writeOutput: @Sendable (String) -> Void
    /// Writes text to standard error as is.
    public var writeError: @Sendable (String) -> Void
    /// Whether standard error is a terminal, where a live progress line belongs.
    public var errorIsTerminal: Bool

    /// A console made of the given writers.
    public init(
        writeOutput: @escaping @Sendable (String) -> Void, writeError: @escaping @Sendable (String) -> Void,
        errorIsTerminal: Bool
    ) {
        self.writeOutput = writeOutput
        self.writeError = writeError
        self.errorIsTerminal = errorIsTerminal
    }

    /// The process's own standard output and error.
    public static var system: Console {
        Console(
            writeOutput: { FileHandle.standardOutput.write(Data($0.utf8)) },
            writeError: { FileHandle.standardError.write(Data($0.utf8)) },
            errorIsTerminal: isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb")
    }

    /// Prints a line to standard output.
    public func print(_ line: String) { writeOutput(line + "\n") }

    /// Prints a line to standard error.
    public func note(_ line: String) { writeError(line + "\n") }

    /// Prints a JSON value to standard output, on one line.
    func printJSON(_ value: JSONValue) {
        writeOutput(JSONText.serialize(value) + "\n")
    }
}
