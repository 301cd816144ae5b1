/// A key, signature or digest that could not be used, or a libcrypto call that failed.
public struct CryptoError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, as printed in messages.
        public let name: String

        /// Bytes of the wrong length for a key, seed or digest.
        public static let invalidLength = Code(name: "invalid length")
        /// Text that is not the expected hexadecimal form.
        public static let invalidHex = Code(name: "invalid hex")
        /// Bytes of the right length that libcrypto refused as a key.
        public static let invalidKey = Code(name: "invalid key")
        /// A libcrypto call that failed for a reason outside the caller's input (usually memory).
        public static let libraryFailure = Code(name: "libcrypto failure")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What was wrong and with which value, in words.
    public var message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
