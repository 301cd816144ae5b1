import Testing

@testable import ColonyNet

/// Who the HTTP server lets in, checked on the policy alone: peers other than loopback cannot reach a live test
/// server here, so the rule is tested as a function of the peer's address.
@Suite struct HTTPAccessPolicyTests {
    static let loopback = Endpoint(host: "127.0.0.1", port: 50_000)!
    static let otherLoopback = Endpoint(host: "127.8.9.10", port: 50_000)!
    static let remote = Endpoint(host: "192.168.1.20", port: 50_000)!
    static let token = "0123456789abcdef0123456789abcdef"

    private func request(
        _ target: String = "/", method: HTTPMethod = .get, _ headers: HTTPHeaders = ["Host": "127.0.0.1:7396"]
    ) throws -> HTTPRequest {
        try HTTPRequest(method: method, target: target, headers: headers)
    }

    @Test func withoutATokenOnlyLoopbackIsServed() throws {
        let policy = HTTPAccessPolicy()
        #expect(policy.refusal(for: try request(), from: Self.loopback) == nil)
        #expect(policy.refusal(for: try request(), from: Self.otherLoopback) == nil)
        let refused = try #require(policy.refusal(for: try request(), from: Self.remote))
        #expect(refused.status == .forbidden)
        // A token in the request means nothing when none is configured.
        let guessing = try request("/?token=\(Self.token)", ["Host": "x", "Authorization": "Bearer \(Self.token)"])
        #expect(policy.refusal(for: guessing, from: Self.remote)?.status == .forbidden)
    }

    @Test func withATokenAnyPeerPresentingItIsServed() throws {
        let policy = HTTPAccessPolicy(token: Self.token)
        let bearer = try request("/", ["Host": "worker.lan:7396", "Authorization": "Bearer \(Self.token)"])
        #expect(policy.refusal(for: bearer, from: Self.remote) == nil)
        let lowercaseScheme = try request("/", ["Host": "worker.lan", "Authorization": "bearer  \(Self.token)"])
        #expect(policy.refusal(for: lowercaseScheme, from: Self.remote) == nil)
        #expect(
            policy.refusal(for: try request("/metrics?token=\(Self.token)", ["Host": "w"]), from: Self.remote) == nil)

        for wrong in ["", "Bearer", "Bearer \(Self.token)0", "Bearer \(Self.token.dropLast())", "Basic \(Self.token)"] {
            let refused = policy.refusal(
                for: try request("/", ["Host": "w", "Authorization": wrong]), from: Self.remote)
            #expect(refused?.status == .unauthorized, "\(wrong)")
            #expect(refused?.headers["WWW-Authenticate"] == "Bearer")
        }
        #expect(policy.refusal(for: try request("/?token=nope", ["Host": "w"]), from: Self.remote)?.status.code == 401)
        // Loopback without the token, allowed by default.
        #expect(policy.refusal(for: try request(), from: Self.loopback) == nil)
    }

    @Test func loopbackCanBeMadeToNeedTheTokenToo() throws {
        let policy = HTTPAccessPolicy(token: Self.token, loopbackWithoutToken: false)
        #expect(policy.refusal(for: try request(), from: Self.loopback)?.status == .unauthorized)
        let bearer = try request("/", ["Host": "127.0.0.1", "Authorization": "Bearer \(Self.token)"])
        #expect(policy.refusal(for: bearer, from: Self.loopback) == nil)
    }

    @Test func aLoopbackRequestNamingAnotherHostIsRefused() throws {
        // DNS rebinding: another site's name resolved to 127.0.0.1 in the donor's browser.
        let policy = HTTPAccessPolicy()
        for host in ["evil.example", "evil.example:7396", "127.0.0.1.evil.example", "localhost.evil", "[::2]:1"] {
            #expect(policy.refusal(for: try request("/", ["Host": host]), from: Self.loopback)?.status == .forbidden)
        }
        for host in ["127.0.0.1", "127.0.0.1:7396", "localhost", "LOCALHOST:80", "[::1]", "[::1]:7396", "127.1.2.3"] {
            #expect(policy.refusal(for: try request("/", ["Host": host]), from: Self.loopback) == nil, "\(host)")
        }
    }

    @Test func anotherSitesPageCannotPostOrPut() throws {
        let policy = HTTPAccessPolicy()
        for method in [HTTPMethod.post, .put] {
            let crossSite = try request(
                "/api/pause", method: method, ["Host": "127.0.0.1:7396", "Origin": "https://evil.example"])
            #expect(policy.refusal(for: crossSite, from: Self.loopback)?.status == .forbidden)
            let sameSite = try request(
                "/api/pause", method: method, ["Host": "127.0.0.1:7396", "Origin": "http://127.0.0.1:7396"])
            #expect(policy.refusal(for: sameSite, from: Self.loopback) == nil)
            let noOrigin = try request("/api/pause", method: method)
            #expect(policy.refusal(for: noOrigin, from: Self.loopback) == nil)
        }
        // A GET from another page only reads, and the browser keeps the answer from that page.
        let read = try request("/api/status", ["Host": "localhost:7396", "Origin": "https://evil.example"])
        #expect(policy.refusal(for: read, from: Self.loopback) == nil)
    }

    @Test func tokensCompareByEveryByte() {
        let expected = Array("secret-token".utf8)
        #expect(HTTPAccessPolicy.constantTimeEqual(expected, expected))
        #expect(!HTTPAccessPolicy.constantTimeEqual(Array("secret-tokem".utf8), expected))
        #expect(!HTTPAccessPolicy.constantTimeEqual(Array("secret-token!".utf8), expected))
        #expect(!HTTPAccessPolicy.constantTimeEqual(Array("secret".utf8), expected))
        #expect(!HTTPAccessPolicy.constantTimeEqual([], expected))
        // A shorter guess padded with what the missing bytes are compared against is still unequal.
        #expect(!HTTPAccessPolicy.constantTimeEqual(Array("secret-token".utf8) + [0], expected))
    }

    @Test func aWeakTokenIsRefusedByName() {
        for token in ["short", "has a space in it here", String(repeating: "x", count: 257), "ümlautümlautümlaut"] {
            #expect(throws: HTTPServerError.self) { try HTTPAccessPolicy(token: token).validate() }
        }
        #expect((try? HTTPAccessPolicy(token: Self.token).validate()) != nil)
    }
}
