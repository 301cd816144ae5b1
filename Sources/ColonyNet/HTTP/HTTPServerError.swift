/// An HTTP server that could not start, or a setting out of range: what went wrong and what to do.
public struct HTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure; new kinds may be added.
    public enum Code: String, Hashable, Sendable {
        /// A setting is out of range; the message names it.
        case invalidConfiguration
        /// The listening socket could not be opened, bound or listened on.
        case listenFailed
    }

    /// What kind of failure.
    public var code: Code
    /// What happened and what to do.
    public var message: String

    /// A failure of kind `code`.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// A configuration error.
    static func invalidConfiguration(_ message: String) -> HTTPServerError {
        HTTPServerError(code: .invalidConfiguration, message: message)
    }

    public var description: String { "HTTP server: \(message)" }
}
