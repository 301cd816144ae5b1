/// A compressor that could not be set up or used: a bad level, a stream used after `finish()`, or zlib failing.
public struct CompressionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, in words.
    public var message: String

    /// An error explained by `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
