import Foundation

/// An identity key file that is damaged or cannot be read or written.
public struct IdentityError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure this is; compare against the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, as printed in messages.
        public let name: String

        /// The key file exists but is not a valid identity.
        public static let damaged = Code(name: "damaged")
        /// The key file or its folder could not be read or written.
        public static let fileSystem = Code(name: "file system")
        /// The key file's permissions let other users read it.
        public static let exposed = Code(name: "exposed")

        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What is wrong, with the file's path and what to do.
    public var message: String

    /// An error of kind `code` explained by `message`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func damaged(_ path: String, _ reason: String) -> IdentityError {
        IdentityError(
            .damaged,
            "\(path): the identity key file is damaged: \(reason). Colony does not replace it by itself, because a "
                + "new key makes this peer a stranger to the swarm. Restore the file from a backup, or move it "
                + "aside to create a new identity on the next start.")
    }
}
