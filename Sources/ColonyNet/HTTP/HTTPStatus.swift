/// A response status: the code and the reason phrase sent with it.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    /// The three-digit code.
    public var code: Int
    /// The reason phrase; clients ignore it, people read it.
    public var reason: String

    /// A status with `code` and `reason`.
    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code) \(reason)" }

    /// 200.
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    /// 204: done, nothing to send back.
    public static let noContent = HTTPStatus(code: 204, reason: "No Content")
    /// 400: the request is malformed.
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    /// 401: a token is needed, or the one given is wrong.
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    /// 403: this client may not use the server.
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    /// 404: no such path.
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    /// 405: the path exists but not for this method.
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    /// 408: the request did not arrive in time.
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    /// 411: a body must come with Content-Length.
    public static let lengthRequired = HTTPStatus(code: 411, reason: "Length Required")
    /// 413: the body is over the limit.
    public static let contentTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    /// 414: the request line is over the limit.
    public static let uriTooLong = HTTPStatus(code: 414, reason: "URI Too Long")
    /// 431: the headers are too many or too long.
    public static let headerFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    /// 500: the handler failed.
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    /// 501: a method or transfer coding this server does not implement.
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    /// 503: too many connections at once.
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    /// 505: an HTTP version other than 1.0 and 1.1.
    public static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")
}
