import Testing

@testable import ColonyNet

/// A real HTTPServer on 127.0.0.1 (port 0) and a plain socket client: routing, keep-alive, each bound answered
/// with its status, the slow client, the connection cap, tokens, and stop.
@Suite struct HTTPServerTests {
    static let token = "fedcba9876543210fedcba9876543210"

    /// Lets a handler reach the server it runs in. `@unchecked Sendable`: set once before the server starts.
    private final class ServerReference: @unchecked Sendable {
        weak var server: HTTPServer?
    }

    /// A started server on an ephemeral loopback port with a small router: `/` (GET), `/echo` (POST, PUT:
    /// answers the body), `/stop` (POST: stops the server from its own handler).
    private func server(_ adjust: (inout HTTPServerConfiguration) -> Void = { _ in }) throws -> HTTPServer {
        var configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0)
        adjust(&configuration)
        let reference = ServerReference()
        var router = HTTPRouter()
        router.add(.post, "/stop") { _ in
            reference.server?.stop()
            return .text("stopped\n")
        }
        router.add(.get, "/") { request in .html("<h1>worker</h1>\(request.queryValue("n") ?? "")") }
        router.add(.post, "/echo") { request in HTTPResponse(body: request.body) }
        router.add(.put, "/echo") { request in HTTPResponse(body: request.body) }
        let server = HTTPServer(configuration: configuration, handler: router.respond(to:))
        reference.server = server
        try server.start()
        return server
    }

    @Test func servesAGetOnAnEphemeralPort() throws {
        let server = try server()
        defer { server.stop() }
        #expect(server.localEndpoint.port != 0)
        #expect(server.localEndpoint.host == "127.0.0.1")
        let client = try HTTPTestClient(to: server)
        try client.get("/?n=1")
        let response = try client.receive()
        #expect(response.code == 200)
        #expect(response.text == "<h1>worker</h1>1")
        #expect(response.headers["Content-Length"] == "16")
        #expect(response.headers["Cache-Control"] == "no-store")
        #expect(response.headers["Connection"] == "keep-alive")
        let date = try #require(response.headers["Date"])
        #expect(date.hasSuffix(" GMT") && date.count == "Sun, 06 Nov 1994 08:49:37 GMT".count, "\(date)")
    }

    @Test func aClientExpectingContinueGetsIt() throws {
        let server = try server()
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        // The body is sent only once the interim answer came, as curl does.
        #expect(try client.receive().code == 100)
        try client.send("hello")
        let response = try client.receive()
        #expect(response.code == 200)
        #expect(response.text == "hello")
    }

    @Test func keepAliveServesSeveralRequestsUpToTheCap() throws {
        let server = try server { $0.maxRequestsPerConnection = 3 }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.get("/?n=1")
        #expect(try client.receive().text.hasSuffix("1"))
        try client.send("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        let head = try client.receive(headOnly: true)
        #expect(head.code == 200)
        #expect(head.headers["Content-Length"] == "15")
        // The third request is the last this connection may make: its response says so, then the server closes.
        try client.send("PUT /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
        let last = try client.receive()
        #expect(last.text == "hello")
        #expect(last.headers["Connection"] == "close")
        #expect(client.waitForClose())
        #expect(server.statistics.requests == 3)
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try server()
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.send(
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\naPOST /echo HTTP/1.1\r\n"
                + "Host: localhost\r\nContent-Length: 1\r\n\r\nbGET /?n=c HTTP/1.1\r\nHost: localhost\r\n"
                + "Connection: close\r\n\r\n")
        #expect(try client.receive().text == "a")
        #expect(try client.receive().text == "b")
        let last = try client.receive()
        #expect(last.text.hasSuffix("c"))
        #expect(last.headers["Connection"] == "close")
        #expect(client.waitForClose())
    }

    @Test func unknownPathsAndMethodsGet404And405() throws {
        let server = try server()
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.get("/nowhere")
        #expect(try client.receive().code == 404)
        try client.get("/echo")
        let wrong = try client.receive()
        #expect(wrong.code == 405)
        #expect(wrong.headers["Allow"] == "POST, PUT")
        // Both leave the connection open.
        try client.get("/")
        #expect(try client.receive().code == 200)
    }

    @Test func oversizeHeadersGet431AndTheConnectionCloses() throws {
        let server = try server { $0.limits.maxHeaderBytes = 1_024 }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.get("/", "X-Big: \(String(repeating: "x", count: 2_000))\r\n")
        let response = try client.receive()
        #expect(response.code == 431)
        #expect(response.text.contains("maxHeaderBytes"))
        #expect(response.headers["Connection"] == "close")
        #expect(client.waitForClose())
        #expect(server.statistics.malformedRequests == 1)
    }

    @Test func aBodyOverTheLimitGets413BeforeItIsSent() throws {
        let server = try server { $0.limits.maxBody = 1_000 }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.send("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\n\r\n")
        let response = try client.receive()
        #expect(response.code == 413)
        #expect(client.waitForClose())
    }

    @Test func malformedRequestsGet400AndChunkedBodies411() throws {
        let server = try server()
        defer { server.stop() }
        let garbage = try HTTPTestClient(to: server)
        try garbage.send("\u{16}\u{03}\u{01} not http at all\r\n\r\n")
        #expect(try garbage.receive().code == 400)
        #expect(garbage.waitForClose())
        let chunked = try HTTPTestClient(to: server)
        try chunked.send(
            "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(try chunked.receive().code == 411)
        #expect(chunked.waitForClose())
    }

    @Test func aClientThatStopsMidRequestGets408() throws {
        let server = try server {
            $0.requestTimeout = 0.3
            $0.idleTimeout = 60
        }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.send("GET / HTTP/1.1\r\nHost: 12")
        // Each read would wait a minute; the request's own deadline ends it.
        let response = try client.receive()
        #expect(response.code == 408)
        #expect(client.waitForClose())
        #expect(server.statistics.requestTimeouts == 1)
    }

    @Test func anIdleKeptAliveConnectionIsClosedQuietly() throws {
        // A second, not less: the wait before the first request is bounded by it too, and a loaded machine may pause.
        let server = try server { $0.idleTimeout = 1 }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.get("/")
        #expect(try client.receive().code == 200)
        #expect(client.waitForClose())
        #expect(server.statistics.closedIdle == 1)
        #expect(server.statistics.requestTimeouts == 0)
    }

    @Test func connectionsOverTheCapGet503() throws {
        let server = try server { $0.maxConnections = 1 }
        defer { server.stop() }
        let first = try HTTPTestClient(to: server)
        try first.get("/")
        #expect(try first.receive().code == 200)
        let second = try HTTPTestClient(to: server)
        #expect(try second.receive().code == 503)
        #expect(second.waitForClose())
        #expect(server.statistics.refusedOverLimit == 1)
        // The first is still served.
        try first.get("/")
        #expect(try first.receive().code == 200)
    }

    @Test func aTokenLetsInAndItsAbsenceIsRefused() throws {
        let server = try server { $0.access = HTTPAccessPolicy(token: Self.token, loopbackWithoutToken: false) }
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.get("/")
        let refused = try client.receive()
        #expect(refused.code == 401)
        #expect(refused.headers["WWW-Authenticate"] == "Bearer")
        try client.get("/", "Authorization: Bearer \(Self.token)\r\n")
        #expect(try client.receive().code == 200)
        try client.get("/?token=\(Self.token)")
        #expect(try client.receive().code == 200)
        #expect(server.statistics.deniedRequests == 1)
    }

    @Test func aRebindingHostIsRefusedOnALiveServer() throws {
        let server = try server()
        defer { server.stop() }
        let client = try HTTPTestClient(to: server)
        try client.send("GET / HTTP/1.1\r\nHost: attacker.example:7396\r\n\r\n")
        #expect(try client.receive().code == 403)
    }

    @Test func stopEndsOpenConnectionsAndFreesThePort() throws {
        let server = try server { $0.idleTimeout = 3_600 }
        let client = try HTTPTestClient(to: server)
        try client.get("/")
        #expect(try client.receive().code == 200)
        let port = server.localEndpoint.port
        // The connection waits for its next request for up to an hour; stop must not.
        server.stop()
        #expect(client.waitForClose())
        #expect(server.statistics.open == 0)
        let again = HTTPServer(configuration: HTTPServerConfiguration(host: "127.0.0.1", port: port)) { _ in .text("") }
        try again.start()
        again.stop()
    }

    @Test func aHandlerCanStopItsOwnServer() throws {
        let server = try server()
        defer { server.stop() }
        let other = try HTTPTestClient(to: server)
        try other.get("/")
        #expect(try other.receive().code == 200)
        let client = try HTTPTestClient(to: server)
        try client.send("POST /stop HTTP/1.1\r\nHost: localhost\r\n\r\n")
        // The stop shut this connection down under its own handler, so the answer may or may not get out; either
        // way both connections end and the server is down.
        #expect(client.waitForClose())
        #expect(other.waitForClose())
    }

    @Test func badSettingsAreNamed() {
        var configuration = HTTPServerConfiguration()
        configuration.host = "::1"
        #expect(throws: HTTPServerError.self) {
            try HTTPServer(configuration: configuration) { _ in .text("") }.start()
        }
        configuration = HTTPServerConfiguration()
        configuration.requestTimeout = 0
        do {
            try configuration.validate()
            Issue.record("requestTimeout 0 accepted")
        } catch {
            #expect(error.message.contains("requestTimeout"))
        }
        #expect(HTTPServerConfiguration(address: "localhost:0")?.host == "localhost")
        #expect(HTTPServerConfiguration(address: "0.0.0.0:8080")?.port == 8080)
        for bad in ["7396", "127.0.0.1", "127.0.0.1:70000", "[::1]:7396", "example.org:80", "127.0.0.1:"] {
            #expect(HTTPServerConfiguration(address: bad) == nil, "\(bad)")
        }
        #expect(HTTPServerConfiguration().port == 7396)
        #expect(HTTPServerConfiguration().host == "127.0.0.1")
    }
}
