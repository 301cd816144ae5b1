/// A complete request as the parser read it: the method, the target split into a decoded path and query, the
/// header fields and the body.
public struct HTTPRequest: Hashable, Sendable {
    /// One `name=value` pair of the query string, percent-decoded (`+` read as a space).
    public struct QueryItem: Hashable, Sendable {
        /// The decoded name.
        public var name: String
        /// The decoded value; empty when the pair had no `=`.
        public var value: String

        /// The pair `name=value`.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The method.
    public var method: HTTPMethod
    /// The target exactly as sent ("/api/status?x=1").
    public var target: String
    /// The target's path, percent-decoded ("/api/status").
    public var path: String
    /// The query's pairs in order.
    public var query: [QueryItem]
    /// The minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    public var minorVersion: Int
    /// The header fields in order.
    public var headers: HTTPHeaders
    /// The body (Content-Length bytes; empty without one).
    public var body: [UInt8]

    /// A request for `target` (origin form `/path?query`, or `http://host/path?query`), checked and split as the
    /// parser would; throws the parser's error for a bad target.
    public init(
        method: HTTPMethod, target: String, minorVersion: Int = 1, headers: HTTPHeaders = [:], body: [UInt8] = []
    ) throws(HTTPParseError) {
        let (path, query) = try Self.split(target: Array(target.utf8))
        self.init(
            method: method, target: target, path: path, query: query, minorVersion: minorVersion, headers: headers,
            body: body)
    }

    /// A request already checked and split, from the parser.
    init(
        method: HTTPMethod, target: String, path: String, query: [QueryItem], minorVersion: Int,
        headers: HTTPHeaders, body: [UInt8]
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.minorVersion = minorVersion
        self.headers = headers
        self.body = body
    }

    /// The value of the first query pair named `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    /// Whether the client asked to keep the connection open: HTTP/1.1 unless it sent `Connection: close`,
    /// HTTP/1.0 only with `Connection: keep-alive` (RFC 9112 §9.3).
    public var wantsKeepAlive: Bool {
        if headers.contains("Connection", token: "close") { return false }
        return minorVersion >= 1 || headers.contains("Connection", token: "keep-alive")
    }

    // MARK: Target

    /// Splits a request target into its decoded path and query pairs.
    static func split(target: [UInt8]) throws(HTTPParseError) -> (path: String, query: [QueryItem]) {
        var bytes = target[...]
        guard !bytes.isEmpty else { throw malformed("the request target is empty") }
        for byte in bytes where byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "#") {
            throw malformed("the request target has byte 0x\(String(byte, radix: 16)); only visible ASCII without '#'")
        }
        if bytes.first != UInt8(ascii: "/") {
            // Absolute form (RFC 9112 §3.2.2): a server must accept it; the scheme and authority are dropped.
            let text = String(decoding: bytes, as: UTF8.self).lowercased()
            guard let scheme = ["http://", "https://"].first(where: { text.hasPrefix($0) }) else {
                throw malformed("the request target must be a path starting with '/' or an http:// URL")
            }
            bytes = bytes.dropFirst(scheme.utf8.count)
            let authorityEnd =
                bytes.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? bytes.endIndex
            guard authorityEnd > bytes.startIndex else { throw malformed("the request target's URL has no host") }
            bytes = bytes[authorityEnd...]
        }
        let question = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[..<(question ?? bytes.endIndex)]
        guard let decodedPath = percentDecoded(pathBytes, plusIsSpace: false) else {
            throw malformed("the request path has a bad percent-escape or is not UTF-8")
        }
        let path = pathBytes.isEmpty ? "/" : decodedPath
        var query: [QueryItem] = []
        if let question {
            for pair in bytes[bytes.index(after: question)...].split(separator: UInt8(ascii: "&")) {
                let equals = pair.firstIndex(of: UInt8(ascii: "="))
                let name = percentDecoded(pair[..<(equals ?? pair.endIndex)], plusIsSpace: true)
                let value = equals.map { percentDecoded(pair[pair.index(after: $0)...], plusIsSpace: true) } ?? ""
                guard let name, let value else {
                    throw malformed("the query string has a bad percent-escape or is not UTF-8")
                }
                query.append(QueryItem(name: name, value: value))
            }
        }
        return (path, query)
    }

    private static func malformed(_ message: String) -> HTTPParseError {
        HTTPParseError(.malformedTarget, .badRequest, message)
    }
}

/// `bytes` with each `%XY` replaced by the byte it names (and `+` by a space when `plusIsSpace`), read as UTF-8;
/// nil for a `%` not followed by two hex digits, or bytes that are not UTF-8.
func percentDecoded(_ bytes: ArraySlice<UInt8>, plusIsSpace: Bool) -> String? {
    var decoded: [UInt8] = []
    decoded.reserveCapacity(bytes.count)
    var index = bytes.startIndex
    while index < bytes.endIndex {
        let byte = bytes[index]
        if byte == UInt8(ascii: "%") {
            guard bytes.endIndex - index >= 3, let high = hexValue(bytes[index + 1]),
                let low = hexValue(bytes[index + 2])
            else { return nil }
            decoded.append(high << 4 | low)
            index += 3
        } else {
            decoded.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
    }
    return String(validating: decoded, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
