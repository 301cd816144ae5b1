/// Who may use the server. Without a token, only clients on this machine (127.0.0.0/8) are served; with one, any
/// client that presents it (`Authorization: Bearer TOKEN` or a `token` query parameter), and loopback clients
/// without it when `loopbackWithoutToken` allows.
///
/// A loopback client is not enough on its own: a web page on another site can make the donor's own browser send
/// requests here. So a request served without the token must name this machine in Host (a rebound DNS name does
/// not), and a POST or PUT must not come from another site's page (its Origin, when sent, names this machine too).
/// The listener is IPv4, so ::1 never connects; `isLoopback(host:)` accepts it in Host and Origin.
public struct HTTPAccessPolicy: Sendable, Hashable {
    /// The secret that lets any client in; nil serves loopback clients only.
    public var token: String?
    /// With a token set: whether loopback clients are served without it.
    public var loopbackWithoutToken: Bool = true

    /// Loopback clients only, no token.
    public init() {}

    /// A policy with `token`, serving loopback clients without it when `loopbackWithoutToken`.
    public init(token: String?, loopbackWithoutToken: Bool = true) {
        self.token = token
        self.loopbackWithoutToken = loopbackWithoutToken
    }

    /// Checks the fields; the error names the bad one.
    public func validate() throws(HTTPServerError) {
        guard let token else { return }
        guard token.utf8.count >= 16, token.utf8.count <= 256,
            token.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else {
            throw .invalidConfiguration(
                "HTTPAccessPolicy.token must be 16 to 256 visible ASCII characters without spaces, got "
                    + "\(token.utf8.count) bytes; make one with `openssl rand -hex 16`")
        }
    }

    /// The response that refuses `request` from `peer`, or nil when it may be served: 403 for a client that is not
    /// let in (or a request another site's page may have made), 401 when a token would let it in.
    public func refusal(for request: HTTPRequest, from peer: Endpoint) -> HTTPResponse? {
        if let token, presentsToken(request, token: token) { return nil }
        let loopback = peer.address >> 24 == 127
        guard loopback, token == nil || loopbackWithoutToken else {
            guard token != nil else {
                return .text(
                    "only this machine may use this page; set a token to allow others\n", status: .forbidden)
            }
            var response = HTTPResponse.text(
                "a token is needed: send Authorization: Bearer TOKEN or ?token=TOKEN\n", status: .unauthorized)
            response.headers.set("WWW-Authenticate", "Bearer")
            return response
        }
        let host = request.headers["Host"]
        guard host.map({ Self.isLoopback(host: $0) }) ?? true else {
            return .text(
                "Host \(host ?? "") does not name this machine; open the page at http://127.0.0.1:PORT/\n",
                status: .forbidden)
        }
        if request.method == .post || request.method == .put, let origin = request.headers["Origin"],
            !Self.isLoopback(origin: origin)
        {
            return .text("a page from \(origin) may not change this machine's settings\n", status: .forbidden)
        }
        return nil
    }

    /// Whether the request carries `token`, compared in time that does not depend on where they differ.
    func presentsToken(_ request: HTTPRequest, token: String) -> Bool {
        let expected = Array(token.utf8)
        if let authorization = request.headers["Authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer",
                Self.constantTimeEqual(Array(trim(parts[1]).utf8), expected)
            {
                return true
            }
        }
        if let given = request.queryValue("token"), Self.constantTimeEqual(Array(given.utf8), expected) {
            return true
        }
        return false
    }

    /// Whether `given` equals `expected`, looking at every byte of `expected` whatever `given` holds.
    static func constantTimeEqual(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for index in expected.indices {
            difference |= (index < given.count ? given[index] : 0) ^ expected[index]
        }
        return difference == 0
    }

    /// Whether a Host value ("127.0.0.1:7396", "localhost", "[::1]:7396") names this machine's loopback.
    public static func isLoopback(host: String) -> Bool {
        var name = Substring(host.lowercased())
        if name.hasPrefix("[") {
            guard let close = name.firstIndex(of: "]") else { return false }
            let rest = name[name.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && UInt16(rest.dropFirst()) != nil) else { return false }
            return name[name.index(after: name.startIndex)..<close] == "::1"
        }
        if let colon = name.lastIndex(of: ":") {
            guard UInt16(name[name.index(after: colon)...]) != nil else { return false }
            name = name[..<colon]
        }
        if name == "localhost" { return true }
        return Endpoint(host: String(name), port: 0).map { $0.address >> 24 == 127 } ?? false
    }

    /// Whether an Origin value ("http://127.0.0.1:7396") is a page served from this machine's loopback.
    public static func isLoopback(origin: String) -> Bool {
        let lowered = origin.lowercased()
        for scheme in ["http://", "https://"] where lowered.hasPrefix(scheme) {
            let authority = lowered.dropFirst(scheme.count)
            return !authority.contains("/") && isLoopback(host: String(authority))
        }
        return false
    }
}
