/// A request the parser refused: what was wrong, the status that answers it, and a message naming the part at
/// fault. After one, the connection is answered with `status` and closed, since the stream cannot be resynchronised.
public struct HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of fault; new kinds may be added.
    public enum Code: String, Hashable, Sendable {
        /// The request line is longer than `HTTPRequestLimits.maxRequestLine` (414).
        case requestLineTooLong
        /// More header fields than `HTTPRequestLimits.maxHeaderCount` (431).
        case tooManyHeaders
        /// The header section is longer than `HTTPRequestLimits.maxHeaderBytes` (431).
        case headersTooLarge
        /// The body announced by Content-Length is longer than `HTTPRequestLimits.maxBody` (413).
        case bodyTooLarge
        /// The request line is not `METHOD TARGET HTTP/x.y` (400).
        case malformedRequestLine
        /// A well-formed method other than GET, HEAD, POST and PUT (501).
        case unsupportedMethod
        /// The target is not a path (`/…`, optionally after `http://host`), or has a bad percent-escape (400).
        case malformedTarget
        /// An HTTP version other than 1.0 and 1.1 (505).
        case unsupportedVersion
        /// A header line that is not `name: value`, a folded line, or a control character in a value (400).
        case malformedHeader
        /// A line ended by LF alone: lines end with CRLF (400).
        case bareLineFeed
        /// An HTTP/1.1 request without exactly one Host field (400).
        case badHost
        /// A Content-Length that is not one decimal number (400).
        case invalidContentLength
        /// A chunked body: this server reads only bodies with Content-Length (411).
        case chunkedBody
        /// A transfer coding other than chunked (501).
        case unsupportedTransferCoding
    }

    /// What kind of fault.
    public var code: Code
    /// The status to answer with.
    public var status: HTTPStatus
    /// What was wrong, naming the field or limit.
    public var message: String

    /// A fault of kind `code`, answered with `status`.
    public init(_ code: Code, _ status: HTTPStatus, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    public var description: String { "HTTP request refused (\(status)): \(message)" }
}
