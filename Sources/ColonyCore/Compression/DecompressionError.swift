/// Compressed input that could not be decompressed: damaged, cut short, or expanding past the allowed size.
public struct DecompressionError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, as printed in messages.
        public let name: String

        /// The bytes are not valid data of the expected format, or a checksum does not match.
        public static let corrupt = Code(name: "corrupt")
        /// The input ended before the end of the compressed stream.
        public static let truncated = Code(name: "truncated")
        /// Bytes follow the end of the compressed stream.
        public static let trailingData = Code(name: "trailing data")
        /// The output would be larger than the limit the caller set; decompression stopped at the limit.
        public static let limitExceeded = Code(name: "limit exceeded")
        /// The decompressor was used after it failed or finished.
        public static let misuse = Code(name: "misuse")
        /// zlib failed for a reason outside the input (usually memory).
        public static let libraryFailure = Code(name: "zlib failure")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong, in words, with the byte counts involved.
    public var message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
