/// A response: status, header fields and body. The server adds Content-Length and Connection when it sends it.
public struct HTTPResponse: Hashable, Sendable {
    /// The status.
    public var status: HTTPStatus
    /// The header fields; Content-Length, Connection, Transfer-Encoding and Date here are ignored (the server owns
    /// them).
    public var headers: HTTPHeaders
    /// The body.
    public var body: [UInt8]

    /// A response with `status`, `headers` and `body`. `Cache-Control: no-store` is set unless `headers` names a
    /// Cache-Control of its own: the page's data is live, and a cached copy would show a stale state.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
        if self.headers["Cache-Control"] == nil { self.headers.add("Cache-Control", "no-store") }
    }

    /// A UTF-8 plain-text response.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// A UTF-8 HTML response.
    public static func html(_ html: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/html; charset=utf-8"], body: Array(html.utf8))
    }

    /// A JSON response of already-encoded bytes.
    public static func json(_ bytes: [UInt8], status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: bytes)
    }

    /// Prometheus text exposition (version 0.0.4).
    public static func prometheus(_ text: String) -> HTTPResponse {
        HTTPResponse(status: .ok, headers: ["Content-Type": PrometheusText.contentType], body: Array(text.utf8))
    }

    /// The answer to a request the parser refused: its status and message as plain text.
    public static func refusal(_ error: HTTPParseError) -> HTTPResponse {
        .text(error.message + "\n", status: error.status)
    }

    // MARK: Serializing

    /// The bytes on the wire: status line, the fields, Content-Length (always, so a keep-alive client knows where
    /// the body ends), `Connection: close` or `keep-alive`, the blank line, then the body unless `headOnly` or the status has none (1xx, 204) (a
    /// HEAD request gets GET's length without the body). A field with a name that is not a token is left out, and
    /// CR, LF and other control bytes in a value become spaces, so a handler cannot split the response.
    /// `date`, when given, is sent as the Date field (the server passes the current time in IMF-fixdate form).
    public func serialized(keepAlive: Bool, headOnly: Bool = false, date: String? = nil) -> [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(Self.printable(status.reason))\r\n"
        if let date { head += "Date: \(Self.printable(date))\r\n" }
        for field in headers where Self.isToken(field.name) {
            if ["content-length", "connection", "transfer-encoding", "date"].contains(field.name.lowercased()) {
                continue
            }
            head += "\(field.name): \(Self.printable(field.value))\r\n"
        }
        // 1xx and 204 responses have no body and must not carry Content-Length (RFC 9110 §8.6).
        let hasBody = status.code >= 200 && status.code != 204
        if hasBody { head += "Content-Length: \(body.count)\r\n" }
        head += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if hasBody, !headOnly { bytes += body }
        return bytes
    }

    private static func isToken(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (0x21...0x7E).contains(byte) && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
            }
    }

    private static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }
}
